-- purpose: retention cohort matrix: of the users in each cohort, how many came back in each later period, from the user_day_activity rollup
-- grain: one row per (cohort period, segment, period k = 0, 1, ...) whose period starts before end
-- param: start TIMESTAMPTZ               inclusive start (UTC midnight): cohorts and returns are taken in [start, end)
-- param: end TIMESTAMPTZ                 exclusive end (UTC midnight)
-- param: interval VARCHAR = week         day | week (ISO, Monday) | month
-- param: periods INTEGER = NULL          last period k shown; NULL: as many as the range holds
-- param: mode VARCHAR = first_time       first_time: cohort = users whose first cohort event ever falls in the period; recurring: users who did it in the period (a user can be in several cohorts)
-- param: cohort_event VARCHAR = $session event_type that puts a user in a cohort; '$session' is a session start; NULL: any session or event
-- param: return_event VARCHAR = $session event_type that counts as coming back; same conventions
-- param: unbounded BOOLEAN = false       false: retained in period k = returned in period k; true: returned in period k or later ("on or after")
-- param: breakdown VARCHAR = NULL        device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL         keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL        keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL           keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL        keep users whose acquisition_channel is one of these; NULL: all
-- columns: cohort DATE, segment VARCHAR, cohort_size BIGINT, period INTEGER, period_start DATE,
--          complete BOOLEAN, retained BIGINT, rate DOUBLE
--
-- Periods are calendar buckets; period k of a cohort is the k-th bucket after the cohort's own.
-- Period 0 counts return events in the cohort's own period (all of the cohort when the return
-- event is the cohort event). first_time looks at the whole history for the first cohort event,
-- so a user first seen before start is in no cohort. Only return events inside [start, end)
-- count: a row whose period runs past end has complete = false and may still grow.
--
-- Same result as ../business_retention.sql (a test keeps them equal) for ranges of whole UTC days
-- when both cohort_event and return_event are '$session' (any other value is an error here):
-- a session cohort and a session return only need each user's active UTC days, the rows of the
-- user_day_activity rollup, so neither the whole history of sessions (first session ever) nor
-- the events are scanned. A user's first session ever falls in [start, end) exactly when its
-- UTC day does (the bounds are midnights). Run only when rollups.usable() says it is fresh.
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
indexed AS (
    SELECT period, period_end,
           CASE $interval WHEN 'day' THEN period - DATE '1970-01-01'
                          WHEN 'week' THEN CAST((period - DATE '1969-12-29') / 7 AS BIGINT)
                          WHEN 'month' THEN year(period) * 12 + month(period) - 1 END AS idx
    FROM periods
    WHERE CASE WHEN $cohort_event = '$session' AND $return_event = '$session' THEN TRUE
               ELSE error('this form answers session cohorts and returns only') END
),
firsts AS (
    SELECT user_id, MIN(date) AS date
    FROM user_day_activity
    WHERE $mode = 'first_time'
    GROUP BY user_id
),
entries AS (
    SELECT user_id, date FROM firsts
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    UNION ALL
    SELECT user_id, date FROM user_day_activity
    WHERE $mode = 'recurring'
      AND date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
),
members AS (
    SELECT DISTINCT sc.user_id, sc.segment,
           CASE $interval WHEN 'day' THEN x.date
                          WHEN 'week' THEN CAST(date_trunc('week', x.date) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', x.date) AS DATE) END AS cohort
    FROM entries AS x
    JOIN scope AS sc ON sc.user_id = x.user_id
),
returns AS (
    SELECT DISTINCT user_id,
           CASE $interval WHEN 'day' THEN date
                          WHEN 'week' THEN CAST(date_trunc('week', date) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', date) AS DATE) END AS period
    FROM user_day_activity
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
),
pairs AS (
    SELECT m.segment, m.cohort, m.user_id, r_i.idx - m_i.idx AS k
    FROM members AS m
    JOIN indexed AS m_i ON m_i.period = m.cohort
    JOIN returns AS r ON r.user_id = m.user_id
    JOIN indexed AS r_i ON r_i.period = r.period
    WHERE r_i.idx >= m_i.idx
),
exact AS (
    SELECT segment, cohort, k, COUNT(*) AS users FROM pairs GROUP BY segment, cohort, k
),
last_return AS (
    SELECT segment, cohort, k, COUNT(*) AS users
    FROM (SELECT segment, cohort, user_id, MAX(k) AS k FROM pairs GROUP BY segment, cohort, user_id) AS u
    GROUP BY segment, cohort, k
),
sizes AS (
    SELECT segment, cohort, COUNT(*) AS cohort_size FROM members GROUP BY segment, cohort
),
grid AS (
    SELECT s.segment, s.cohort, s.cohort_size, p.idx - c.idx AS k, p.period AS period_start,
           CAST(p.period AS TIMESTAMPTZ) >= $start AND CAST(p.period_end AS TIMESTAMPTZ) <= $end AS complete
    FROM sizes AS s
    JOIN indexed AS c ON c.period = s.cohort
    JOIN indexed AS p ON p.idx >= c.idx
),
counted AS (
    SELECT g.*,
           CASE WHEN $unbounded
                THEN SUM(COALESCE(l.users, 0)) OVER (PARTITION BY g.segment, g.cohort ORDER BY g.k DESC)
                ELSE COALESCE(e.users, 0) END AS retained
    FROM grid AS g
    LEFT JOIN exact AS e ON e.segment = g.segment AND e.cohort = g.cohort AND e.k = g.k
    LEFT JOIN last_return AS l ON l.segment = g.segment AND l.cohort = g.cohort AND l.k = g.k
)
SELECT cohort, segment, cohort_size, CAST(k AS INTEGER) AS period, period_start, complete,
       CAST(retained AS BIGINT) AS retained,
       CAST(retained AS DOUBLE) / cohort_size AS rate
FROM counted
WHERE $periods IS NULL OR k <= $periods
ORDER BY segment, cohort, k
