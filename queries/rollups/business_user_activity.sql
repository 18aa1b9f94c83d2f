-- purpose: users, sessions and engagement per period (DAU, WAU or MAU by interval) for the Business tab, from the user_day_activity rollup
-- grain: one row per (period, segment): every period [start, end) touches, for each segment with users created before end
-- param: start TIMESTAMPTZ            inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ              exclusive end (UTC midnight)
-- param: interval VARCHAR = week      day | week (ISO, Monday) | month | range (the whole range)
-- param: breakdown VARCHAR = NULL     device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL      keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL     keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL        keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL     keep users whose acquisition_channel is one of these; NULL: all
-- columns: period DATE, segment VARCHAR, complete BOOLEAN, total_users BIGINT, new_users BIGINT,
--          active_users BIGINT, sessions BIGINT, avg_session_duration DOUBLE,
--          median_session_duration DOUBLE, page_views BIGINT, pages_per_session DOUBLE,
--          bounced_sessions BIGINT, bounce_rate DOUBLE, sessions_per_user DOUBLE,
--          duration_per_user DOUBLE
--
-- Only rows inside [start, end) count; a period the range cuts at either edge has complete = false.
-- Active users: distinct users with a session starting in the period (so the active_users of a
-- daily, weekly or monthly interval are DAU, WAU or MAU). total_users: accounts created before the
-- period's end (or before end); new_users: accounts created in the period. Durations are seconds.
-- Bounce: a session with exactly one page view, among sessions whose page_views is known.
-- sessions_per_user and duration_per_user are per active user (engagement). Counts are 0 and
-- averages NULL in a period without sessions; no users created before end: no rows.
--
-- Same result as ../business_user_activity.sql (a test keeps them equal) for ranges of whole UTC
-- days. Counts and sums come from the user_day_activity rollup (one row per user and active day,
-- integer sums). The median needs the sessions themselves: where one segment holds every session
-- of its period (no breakdown, and every session's user is in scope: the usual case), it is the
-- median of the period's sessions read without the join to users (the join is most of the
-- cost); otherwise from the sessions joined to scope, for those (period, segment) only (an empty
-- list skips that scan). Run only when rollups.usable() says the rollup is fresh.
WITH
-- scope:begin (the same in every business_*.sql that takes user filters; a test checks it)
scope AS (
    SELECT id AS user_id,
           created_at AS signed_up_at,
           date AS signed_up_on,
           CASE WHEN $breakdown IS NULL THEN 'all'
                ELSE COALESCE(CASE $breakdown WHEN 'device' THEN device
                                              WHEN 'country' THEN country
                                              WHEN 'plan' THEN plan
                                              WHEN 'channel' THEN acquisition_channel END, '(none)')
           END AS segment
    FROM users
    WHERE ($device IS NULL OR list_contains($device, device))
      AND ($country IS NULL OR list_contains($country, country))
      AND ($plan IS NULL OR list_contains($plan, plan))
      AND ($channel IS NULL OR list_contains($channel, acquisition_channel))
),
-- scope:end
-- periods:begin (the same in every business_*.sql bucketed by interval; a test checks it)
periods AS (
    SELECT period,
           CASE $interval WHEN 'day' THEN period + 1
                          WHEN 'week' THEN period + 7
                          WHEN 'month' THEN CAST(period + INTERVAL 1 MONTH AS DATE) END AS period_end
    FROM (
        SELECT DISTINCT CASE $interval WHEN 'day' THEN CAST(d AS DATE)
                                       WHEN 'week' THEN CAST(date_trunc('week', d) AS DATE)
                                       WHEN 'month' THEN CAST(date_trunc('month', d) AS DATE)
                                       WHEN 'range' THEN CAST($start AS DATE) END AS period
        FROM range(CAST(CAST($start AS DATE) AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) AS t(d)
    ) AS p
),
-- periods:end
rolled AS (
    SELECT CASE $interval WHEN 'day' THEN f.date
                          WHEN 'week' THEN CAST(date_trunc('week', f.date) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', f.date) AS DATE)
                          WHEN 'range' THEN CAST($start AS DATE) END AS period,
           sc.segment,
           COUNT(DISTINCT f.user_id) AS active_users,
           CAST(SUM(f.sessions) AS BIGINT) AS sessions,
           CAST(SUM(f.duration_sum) AS DOUBLE) / NULLIF(SUM(f.duration_count), 0) AS avg_session_duration,
           CAST(SUM(f.duration_sum) AS DOUBLE) AS total_duration,
           CAST(SUM(f.page_views_sum) AS BIGINT) AS page_views,
           CAST(SUM(f.page_views_count) AS BIGINT) AS sessions_with_page_views,
           CAST(SUM(f.bounced_sessions) AS BIGINT) AS bounced_sessions
    FROM user_day_activity AS f
    JOIN scope AS sc ON sc.user_id = f.user_id
    WHERE f.date >= CAST($start AS DATE) AND f.date < CAST($end AS DATE)
    GROUP BY 1, 2
),
all_sessions AS (
    -- every session of the period, with a user in scope or not (NULL users included)
    SELECT CASE $interval WHEN 'day' THEN date
                          WHEN 'week' THEN CAST(date_trunc('week', date) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', date) AS DATE)
                          WHEN 'range' THEN CAST($start AS DATE) END AS period,
           SUM(sessions) AS sessions
    FROM user_day_activity
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY 1
),
whole AS (
    -- the (period, segment) pairs holding every session of their period
    SELECT r.period, r.segment
    FROM rolled AS r
    JOIN all_sessions AS a ON a.period = r.period AND a.sessions = r.sessions
),
partial AS (
    SELECT period, segment FROM rolled
    EXCEPT
    SELECT period, segment FROM whole
),
medians AS (
    SELECT w.period, w.segment, quantile_cont(f.duration, 0.5) AS median_session_duration
    FROM user_sessions AS f
    JOIN whole AS w
      ON w.period = CASE $interval WHEN 'day' THEN f.date
                                   WHEN 'week' THEN CAST(date_trunc('week', f.date) AS DATE)
                                   WHEN 'month' THEN CAST(date_trunc('month', f.date) AS DATE)
                                   WHEN 'range' THEN CAST($start AS DATE) END
    WHERE f.date >= CAST($start AS DATE) AND f.date < CAST($end AS DATE)
    GROUP BY 1, 2
    UNION ALL
    SELECT p.period, p.segment, quantile_cont(f.duration, 0.5)
    FROM user_sessions AS f
    JOIN scope AS sc ON sc.user_id = f.user_id
    JOIN partial AS p
      ON p.segment = sc.segment
     AND p.period = CASE $interval WHEN 'day' THEN f.date
                                   WHEN 'week' THEN CAST(date_trunc('week', f.date) AS DATE)
                                   WHEN 'month' THEN CAST(date_trunc('month', f.date) AS DATE)
                                   WHEN 'range' THEN CAST($start AS DATE) END
    WHERE f.date >= CAST($start AS DATE) AND f.date < CAST($end AS DATE)
    GROUP BY 1, 2
),
sessions AS (
    SELECT r.*, m.median_session_duration
    FROM rolled AS r
    LEFT JOIN medians AS m ON m.period = r.period AND m.segment = r.segment
),
signups AS (
    SELECT CASE $interval WHEN 'day' THEN signed_up_on
                          WHEN 'week' THEN CAST(date_trunc('week', signed_up_on) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', signed_up_on) AS DATE)
                          WHEN 'range' THEN CAST($start AS DATE) END AS period,
           segment,
           COUNT(*) AS new_users
    FROM scope
    WHERE signed_up_at >= $start AND signed_up_at < $end
    GROUP BY 1, 2
),
earlier AS (
    SELECT segment, COUNT(*) AS users_before
    FROM scope
    WHERE signed_up_at < $start
    GROUP BY segment
),
segments AS (
    SELECT segment FROM sessions
    UNION
    SELECT segment FROM signups
    UNION
    SELECT segment FROM earlier
)
SELECT p.period,
       g.segment,
       CASE WHEN $interval = 'range' THEN TRUE
            ELSE CAST(p.period AS TIMESTAMPTZ) >= $start AND CAST(p.period_end AS TIMESTAMPTZ) <= $end
       END AS complete,
       CAST(COALESCE(e.users_before, 0)
            + SUM(COALESCE(n.new_users, 0)) OVER (PARTITION BY g.segment ORDER BY p.period)
            AS BIGINT) AS total_users,
       COALESCE(n.new_users, 0) AS new_users,
       COALESCE(s.active_users, 0) AS active_users,
       COALESCE(s.sessions, 0) AS sessions,
       s.avg_session_duration,
       s.median_session_duration,
       COALESCE(s.page_views, 0) AS page_views,
       CAST(s.page_views AS DOUBLE) / NULLIF(s.sessions_with_page_views, 0) AS pages_per_session,
       COALESCE(s.bounced_sessions, 0) AS bounced_sessions,
       CAST(s.bounced_sessions AS DOUBLE) / NULLIF(s.sessions_with_page_views, 0) AS bounce_rate,
       CAST(s.sessions AS DOUBLE) / NULLIF(s.active_users, 0) AS sessions_per_user,
       s.total_duration / NULLIF(s.active_users, 0) AS duration_per_user
FROM periods AS p
CROSS JOIN segments AS g
LEFT JOIN sessions AS s ON s.period = p.period AND s.segment = g.segment
LEFT JOIN signups AS n ON n.period = p.period AND n.segment = g.segment
LEFT JOIN earlier AS e ON e.segment = g.segment
ORDER BY g.segment, p.period
