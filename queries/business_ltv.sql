-- purpose: cumulative revenue per signup cohort (LTV curve): revenue per cohort user after k periods
-- grain: one row per (signup cohort, segment, period k = 0, 1, ...) whose period starts before end
-- param: start TIMESTAMPTZ            inclusive start (UTC): cohorts are users created in [start, end)
-- param: end TIMESTAMPTZ              exclusive end (UTC): revenue after it is not counted
-- param: interval VARCHAR = month     day | week (ISO, Monday) | month
-- param: periods INTEGER = NULL       last period k shown; NULL: as many as the range holds
-- param: breakdown VARCHAR = NULL     device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL      keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL     keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL        keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL     keep users whose acquisition_channel is one of these; NULL: all
-- columns: cohort DATE, segment VARCHAR, cohort_size BIGINT, period INTEGER, period_start DATE,
--          complete BOOLEAN, revenue DOUBLE, cumulative_revenue DOUBLE, ltv DOUBLE,
--          paying_users BIGINT, paying_share DOUBLE
--
-- A cohort is the users created (users.created_at) in one calendar period. Period k is the k-th
-- bucket after the cohort's. revenue: the cohort's revenue events in period k (inside
-- [start, end)); cumulative_revenue: periods 0..k; ltv = cumulative_revenue / cohort_size (USD per
-- user, all users counted). paying_users: cohort users with a positive revenue event in periods
-- 0..k. A period that runs past end has complete = false.
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
),
cohorts AS (
    SELECT sc.user_id, sc.segment, i.period AS cohort, i.idx
    FROM scope AS sc
    JOIN indexed AS i
      ON i.period = CASE $interval WHEN 'day' THEN sc.signed_up_on
                                   WHEN 'week' THEN CAST(date_trunc('week', sc.signed_up_on) AS DATE)
                                   WHEN 'month' THEN CAST(date_trunc('month', sc.signed_up_on) AS DATE) END
    WHERE sc.signed_up_at >= $start AND sc.signed_up_at < $end
),
money AS (
    SELECT c.segment, c.cohort, c.user_id, i.idx - c.idx AS k, CAST(e.revenue AS DOUBLE) AS revenue
    FROM events AS e
    JOIN cohorts AS c ON c.user_id = e.user_id
    JOIN indexed AS i
      ON i.period = CASE $interval WHEN 'day' THEN e.date
                                   WHEN 'week' THEN CAST(date_trunc('week', e.date) AS DATE)
                                   WHEN 'month' THEN CAST(date_trunc('month', e.date) AS DATE) END
    WHERE e.revenue IS NOT NULL
      AND e.created_at >= $start AND e.created_at < $end
      AND e.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
),
per_k AS (
    SELECT segment, cohort, k, SUM(revenue) AS revenue FROM money GROUP BY segment, cohort, k
),
first_paid AS (
    SELECT segment, cohort, k, COUNT(*) AS users
    FROM (SELECT segment, cohort, user_id, MIN(k) AS k FROM money WHERE revenue > 0
          GROUP BY segment, cohort, user_id) AS u
    GROUP BY segment, cohort, k
),
sizes AS (
    SELECT segment, cohort, MIN(idx) AS idx, COUNT(*) AS cohort_size FROM cohorts GROUP BY segment, cohort
),
grid AS (
    SELECT s.segment, s.cohort, s.cohort_size, p.idx - s.idx AS k, p.period AS period_start,
           CAST(p.period AS TIMESTAMPTZ) >= $start AND CAST(p.period_end AS TIMESTAMPTZ) <= $end AS complete
    FROM sizes AS s
    JOIN indexed AS p ON p.idx >= s.idx
),
rolled AS (
    SELECT g.*, COALESCE(r.revenue, 0.0) AS revenue,
           SUM(COALESCE(r.revenue, 0.0)) OVER w AS cumulative_revenue,
           SUM(COALESCE(f.users, 0)) OVER w AS paying_users
    FROM grid AS g
    LEFT JOIN per_k AS r ON r.segment = g.segment AND r.cohort = g.cohort AND r.k = g.k
    LEFT JOIN first_paid AS f ON f.segment = g.segment AND f.cohort = g.cohort AND f.k = g.k
    WINDOW w AS (PARTITION BY g.segment, g.cohort ORDER BY g.k)
)
SELECT cohort, segment, cohort_size, CAST(k AS INTEGER) AS period, period_start, complete,
       revenue, cumulative_revenue, cumulative_revenue / cohort_size AS ltv,
       CAST(paying_users AS BIGINT) AS paying_users,
       CAST(paying_users AS DOUBLE) / cohort_size AS paying_share
FROM rolled
WHERE $periods IS NULL OR k <= $periods
ORDER BY segment, cohort, k
