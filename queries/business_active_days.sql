-- purpose: distribution of active periods per user (stickiness histogram): how many users were active on exactly k days (weeks, months) of the range
-- grain: one row per (segment, active_periods k = 1 .. number of periods [start, end) touches)
-- param: start TIMESTAMPTZ            inclusive start (UTC)
-- param: end TIMESTAMPTZ              exclusive end (UTC)
-- param: interval VARCHAR = day       day | week | month: the unit of k
-- param: breakdown VARCHAR = NULL     device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL      keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL     keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL        keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL     keep users whose acquisition_channel is one of these; NULL: all
-- columns: segment VARCHAR, active_periods INTEGER, users BIGINT, share DOUBLE,
--          at_least_share DOUBLE
--
-- Users counted are those with at least one session in [start, end); a user is active in a period
-- when a session starts in it. share = users / all active users of the segment; at_least_share =
-- share of users active in k or more periods.
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
-- scope:end,
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
-- periods:end,
active AS (
    SELECT DISTINCT f.user_id, sc.segment,
           CASE $interval WHEN 'day' THEN f.date
                          WHEN 'week' THEN CAST(date_trunc('week', f.date) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', f.date) AS DATE)
                          WHEN 'range' THEN CAST($start AS DATE) END AS period
    FROM user_sessions AS f
    JOIN scope AS sc ON sc.user_id = f.user_id
    WHERE f.created_at >= $start AND f.created_at < $end
      AND f.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
),
per_user AS (
    SELECT segment, user_id, CAST(COUNT(*) AS INTEGER) AS active_periods
    FROM active
    GROUP BY segment, user_id
),
counts AS (
    SELECT segment, active_periods, COUNT(*) AS users
    FROM per_user
    GROUP BY segment, active_periods
),
grid AS (
    SELECT g.segment, CAST(k.k AS INTEGER) AS active_periods
    FROM (SELECT DISTINCT segment FROM per_user) AS g
    CROSS JOIN range(1, (SELECT COUNT(*) FROM periods) + 1) AS k(k)
)
SELECT g.segment, g.active_periods,
       COALESCE(c.users, 0) AS users,
       CAST(COALESCE(c.users, 0) AS DOUBLE) / SUM(COALESCE(c.users, 0)) OVER (PARTITION BY g.segment) AS share,
       CAST(SUM(COALESCE(c.users, 0)) OVER (PARTITION BY g.segment ORDER BY g.active_periods DESC) AS DOUBLE)
         / SUM(COALESCE(c.users, 0)) OVER (PARTITION BY g.segment) AS at_least_share
FROM grid AS g
LEFT JOIN counts AS c ON c.segment = g.segment AND c.active_periods = g.active_periods
ORDER BY g.segment, g.active_periods
