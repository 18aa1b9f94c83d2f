-- purpose: lifecycle: per period, how many active users are new, returning or resurrecting, and how many went dormant
-- grain: one row per (period, segment, status) for every period [start, end) touches; status: new | returning | resurrecting | dormant
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: interval VARCHAR = week         day | week (ISO, Monday) | month
-- param: event VARCHAR = $session        event_type that makes a user active; '$session' is a session start; NULL: any session or event
-- param: breakdown VARCHAR = NULL        device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL         keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL        keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL           keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL        keep users whose acquisition_channel is one of these; NULL: all
-- columns: period DATE, segment VARCHAR, complete BOOLEAN, status VARCHAR, users BIGINT
--
-- An active user of period p is new when p holds their first activity ever (whole history),
-- returning when they were also active in the period before p, resurrecting otherwise. Dormant:
-- active in the period before p and not in p (a positive count; charts draw it below zero).
-- Activity in p counts only inside [start, end); the period before the first one is read whole
-- from the history. A period cut by the range has complete = false (its dormant count is inflated
-- by users who may still come back in the part outside the range).
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
bounds AS (
    SELECT CAST(MIN(period) AS TIMESTAMPTZ) AS first_start,
           CAST(MIN(period) AS TIMESTAMPTZ)
             - CASE $interval WHEN 'day' THEN INTERVAL 1 DAY
                              WHEN 'week' THEN INTERVAL 7 DAY
                              WHEN 'month' THEN INTERVAL 1 MONTH END AS lookback_start,
           MIN(idx) AS first_idx
    FROM indexed
),
activity AS (
    SELECT user_id, created_at AS ts, '$session' AS event, date FROM user_sessions
    UNION ALL
    SELECT user_id, created_at, event_type, date FROM events
),
firsts AS (
    SELECT user_id, MIN(ts) AS ts
    FROM activity
    WHERE $event IS NULL OR event = $event
    GROUP BY user_id
),
active_idx AS (
    SELECT DISTINCT sc.user_id, sc.segment,
           CASE $interval WHEN 'day' THEN CAST(a.ts AS DATE) - DATE '1970-01-01'
                          WHEN 'week' THEN CAST((CAST(date_trunc('week', a.ts) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT)
                          WHEN 'month' THEN year(a.ts) * 12 + month(a.ts) - 1 END AS idx
    FROM activity AS a
    JOIN scope AS sc ON sc.user_id = a.user_id
    CROSS JOIN bounds AS b
    WHERE ($event IS NULL OR a.event = $event)
      AND ((a.ts >= b.lookback_start AND a.ts < b.first_start) OR (a.ts >= $start AND a.ts < $end))
      AND a.date BETWEEN CAST(b.lookback_start AS DATE) AND CAST($end AS DATE)
),
first_idx AS (
    SELECT f.user_id,
           CASE $interval WHEN 'day' THEN CAST(f.ts AS DATE) - DATE '1970-01-01'
                          WHEN 'week' THEN CAST((CAST(date_trunc('week', f.ts) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT)
                          WHEN 'month' THEN year(f.ts) * 12 + month(f.ts) - 1 END AS idx
    FROM firsts AS f
),
statuses AS (
    SELECT cur.segment, cur.idx,
           CASE WHEN fi.idx = cur.idx THEN 'new'
                WHEN prev.user_id IS NOT NULL THEN 'returning'
                ELSE 'resurrecting' END AS status
    FROM active_idx AS cur
    CROSS JOIN bounds AS b
    JOIN first_idx AS fi ON fi.user_id = cur.user_id
    LEFT JOIN active_idx AS prev ON prev.user_id = cur.user_id AND prev.idx = cur.idx - 1
    WHERE cur.idx >= b.first_idx
    UNION ALL
    SELECT prev.segment, prev.idx + 1, 'dormant'
    FROM active_idx AS prev
    LEFT JOIN active_idx AS cur ON cur.user_id = prev.user_id AND cur.idx = prev.idx + 1
    WHERE cur.user_id IS NULL AND prev.idx + 1 <= (SELECT MAX(idx) FROM indexed)
),
counts AS (
    SELECT segment, idx, status, COUNT(*) AS users FROM statuses GROUP BY segment, idx, status
)
SELECT i.period, g.segment,
       CAST(i.period AS TIMESTAMPTZ) >= $start AND CAST(i.period_end AS TIMESTAMPTZ) <= $end AS complete,
       s.status, COALESCE(c.users, 0) AS users
FROM indexed AS i
CROSS JOIN (SELECT DISTINCT segment FROM statuses) AS g
CROSS JOIN (VALUES (1, 'new'), (2, 'returning'), (3, 'resurrecting'), (4, 'dormant')) AS s(rank, status)
LEFT JOIN counts AS c ON c.segment = g.segment AND c.idx = i.idx AND c.status = s.status
ORDER BY g.segment, i.period, s.rank
