-- purpose: acquisition: new users per period and segment (channel by default), with the share of them who activate and who convert to paid within a window after signing up
-- grain: one row per (signup period, segment): every period [start, end) touches, for each segment with signups
-- param: start TIMESTAMPTZ               inclusive start of the signups (UTC)
-- param: end TIMESTAMPTZ                 exclusive end of the signups (UTC)
-- param: interval VARCHAR = week         day | week | month | range
-- param: window_days INTEGER = 30        conversions count when they happen within this many days of signup
-- param: activation_event VARCHAR = activate   event_type that marks activation
-- param: paid_event VARCHAR = subscribe        event_type that marks the conversion to paid
-- param: breakdown VARCHAR = NULL        device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL         keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL        keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL           keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL        keep users whose acquisition_channel is one of these; NULL: all
-- columns: period DATE, segment VARCHAR, complete BOOLEAN, mature BOOLEAN, new_users BIGINT,
--          activated_users BIGINT, activation_rate DOUBLE, median_days_to_activate DOUBLE,
--          paid_users BIGINT, paid_rate DOUBLE, median_days_to_paid DOUBLE
--
-- New users: accounts created (users.created_at) in [start, end). A conversion counts when the
-- user's first activation (paid) event is at or after signup and at most window_days later, even
-- if that is after end. mature: every signup of the period has had its full window before the
-- latest event in the data (the observation horizon); rates of immature periods are still rising.
-- Rates are NULL when a period has no new users.
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
cohort AS (
    SELECT user_id, segment, signed_up_at,
           CASE $interval WHEN 'day' THEN signed_up_on
                          WHEN 'week' THEN CAST(date_trunc('week', signed_up_on) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', signed_up_on) AS DATE)
                          WHEN 'range' THEN CAST($start AS DATE) END AS period
    FROM scope
    WHERE signed_up_at >= $start AND signed_up_at < $end
),
conversions AS (
    SELECT c.user_id,
           MIN(CASE WHEN e.event_type = $activation_event THEN e.created_at END) AS activated_at,
           MIN(CASE WHEN e.event_type = $paid_event THEN e.created_at END) AS paid_at
    FROM events AS e
    JOIN cohort AS c ON c.user_id = e.user_id
    WHERE e.event_type IN ($activation_event, $paid_event)
      AND e.created_at >= c.signed_up_at
      AND e.created_at <= c.signed_up_at + to_days($window_days)
      AND e.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE) + $window_days
    GROUP BY c.user_id
),
horizon AS (
    SELECT MAX(created_at) AS observed_until FROM events
),
per_period AS (
    SELECT c.period, c.segment,
           COUNT(*) AS new_users,
           COUNT(v.activated_at) AS activated_users,
           quantile_cont((epoch(v.activated_at) - epoch(c.signed_up_at)) / 86400.0, 0.5) AS median_days_to_activate,
           COUNT(v.paid_at) AS paid_users,
           quantile_cont((epoch(v.paid_at) - epoch(c.signed_up_at)) / 86400.0, 0.5) AS median_days_to_paid
    FROM cohort AS c
    LEFT JOIN conversions AS v ON v.user_id = c.user_id
    GROUP BY c.period, c.segment
)
SELECT p.period, g.segment,
       CASE WHEN $interval = 'range' THEN TRUE
            ELSE CAST(p.period AS TIMESTAMPTZ) >= $start AND CAST(p.period_end AS TIMESTAMPTZ) <= $end
       END AS complete,
       COALESCE(LEAST(CAST(COALESCE(p.period_end, CAST($end AS DATE) + 1) AS TIMESTAMPTZ), $end)
                + to_days($window_days) <= h.observed_until, FALSE) AS mature,
       COALESCE(s.new_users, 0) AS new_users,
       COALESCE(s.activated_users, 0) AS activated_users,
       CAST(s.activated_users AS DOUBLE) / NULLIF(s.new_users, 0) AS activation_rate,
       s.median_days_to_activate,
       COALESCE(s.paid_users, 0) AS paid_users,
       CAST(s.paid_users AS DOUBLE) / NULLIF(s.new_users, 0) AS paid_rate,
       s.median_days_to_paid
FROM periods AS p
CROSS JOIN (SELECT DISTINCT segment FROM cohort) AS g
CROSS JOIN horizon AS h
LEFT JOIN per_period AS s ON s.period = p.period AND s.segment = g.segment
ORDER BY g.segment, p.period
