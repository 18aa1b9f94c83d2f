-- purpose: revenue KPIs per period: revenue, paying users, ARPU, ARPPU and conversion to paid, from the money_events and user_day_activity rollups
-- grain: one row per (period, segment): every period [start, end) touches, for each segment with sessions or revenue
-- param: start TIMESTAMPTZ            inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ              exclusive end (UTC midnight)
-- param: interval VARCHAR = week      day | week (ISO, Monday) | month | range (the whole range)
-- param: breakdown VARCHAR = NULL     device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL      keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL     keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL        keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL     keep users whose acquisition_channel is one of these; NULL: all
-- columns: period DATE, segment VARCHAR, complete BOOLEAN, revenue DOUBLE, transactions BIGINT,
--          paying_users BIGINT, new_paying_users BIGINT, active_users BIGINT,
--          paying_active_users BIGINT, arpu DOUBLE, arppu DOUBLE, conversion_to_paid DOUBLE
--
-- Revenue: the sum of events.revenue (USD, any event type; refunds would be negative) in the
-- period; transactions: events with a non-zero revenue. Paying users: distinct users with a
-- positive revenue event in the period; new paying users: those whose first positive revenue
-- ever (whole history) is in the period. Active users: distinct users with a session in the
-- period. ARPU = revenue / active users; ARPPU = revenue / paying users; conversion_to_paid =
-- share of active users who also paid in the period (paying_active_users / active_users).
-- Ratios are NULL when their denominator is 0.
--
-- Same result as ../business_revenue.sql (a test keeps them equal) for ranges of whole UTC days:
-- the money rows come from the money_events rollup (the events with a revenue, ~3% of them), so
-- neither the range's revenue nor each user's first positive revenue (whole history) scans every
-- event; active users come from user_day_activity (one row per user and active day). Both are
-- selected by their UTC day partition alone (the bounds are midnights: the same rows). Run only
-- when rollups.usable() says both rollups are fresh and the bounds are midnights.
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
money AS (
    SELECT CASE $interval WHEN 'day' THEN e.date
                          WHEN 'week' THEN CAST(date_trunc('week', e.date) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', e.date) AS DATE)
                          WHEN 'range' THEN CAST($start AS DATE) END AS period,
           sc.segment, e.user_id, CAST(e.revenue AS DOUBLE) AS revenue
    FROM money_events AS e
    JOIN scope AS sc ON sc.user_id = e.user_id
    WHERE e.revenue IS NOT NULL
      AND e.date >= CAST($start AS DATE) AND e.date < CAST($end AS DATE)
),
first_paid AS (
    SELECT user_id, MIN(created_at) AS ts
    FROM money_events
    WHERE revenue > 0
    GROUP BY user_id
),
active AS (
    SELECT f.period, sc.segment, f.user_id
    FROM (
        SELECT DISTINCT
               CASE $interval WHEN 'day' THEN date
                              WHEN 'week' THEN CAST(date_trunc('week', date) AS DATE)
                              WHEN 'month' THEN CAST(date_trunc('month', date) AS DATE)
                              WHEN 'range' THEN CAST($start AS DATE) END AS period,
               user_id
        FROM user_day_activity
        WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    ) AS f
    JOIN scope AS sc ON sc.user_id = f.user_id
),
payers AS (
    SELECT DISTINCT period, segment, user_id FROM money WHERE revenue > 0
),
money_agg AS (
    SELECT period, segment, SUM(revenue) AS revenue, COUNT(*) FILTER (WHERE revenue <> 0) AS transactions
    FROM money
    GROUP BY period, segment
),
payer_agg AS (
    SELECT p.period, p.segment, COUNT(*) AS paying_users,
           COUNT(*) FILTER (WHERE CASE $interval WHEN 'day' THEN CAST(fp.ts AS DATE)
                                                 WHEN 'week' THEN CAST(date_trunc('week', fp.ts) AS DATE)
                                                 WHEN 'month' THEN CAST(date_trunc('month', fp.ts) AS DATE)
                                                 WHEN 'range' THEN CAST($start AS DATE) END = p.period
                                  AND fp.ts >= $start) AS new_paying_users,
           COUNT(a.user_id) AS paying_active_users
    FROM payers AS p
    JOIN first_paid AS fp ON fp.user_id = p.user_id
    LEFT JOIN active AS a ON a.period = p.period AND a.segment = p.segment AND a.user_id = p.user_id
    GROUP BY p.period, p.segment
),
active_agg AS (
    SELECT period, segment, COUNT(*) AS active_users FROM active GROUP BY period, segment
),
segments AS (
    SELECT segment FROM money
    UNION
    SELECT segment FROM active
)
SELECT p.period, g.segment,
       CASE WHEN $interval = 'range' THEN TRUE
            ELSE CAST(p.period AS TIMESTAMPTZ) >= $start AND CAST(p.period_end AS TIMESTAMPTZ) <= $end
       END AS complete,
       COALESCE(m.revenue, 0) AS revenue,
       COALESCE(m.transactions, 0) AS transactions,
       COALESCE(y.paying_users, 0) AS paying_users,
       COALESCE(y.new_paying_users, 0) AS new_paying_users,
       COALESCE(a.active_users, 0) AS active_users,
       COALESCE(y.paying_active_users, 0) AS paying_active_users,
       m.revenue / NULLIF(a.active_users, 0) AS arpu,
       m.revenue / NULLIF(y.paying_users, 0) AS arppu,
       CAST(COALESCE(y.paying_active_users, 0) AS DOUBLE) / NULLIF(a.active_users, 0) AS conversion_to_paid
FROM periods AS p
CROSS JOIN segments AS g
LEFT JOIN money_agg AS m ON m.period = p.period AND m.segment = g.segment
LEFT JOIN payer_agg AS y ON y.period = p.period AND y.segment = g.segment
LEFT JOIN active_agg AS a ON a.period = p.period AND a.segment = g.segment
ORDER BY g.segment, p.period
