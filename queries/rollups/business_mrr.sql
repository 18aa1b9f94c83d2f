-- purpose: MRR from subscription events: opening and closing MRR per period and its movements (new, expansion, contraction, churn, reactivation), from the money_events rollup
-- grain: one row per (period, segment): every period [start, end) touches, for each segment with subscription events up to end
-- param: start TIMESTAMPTZ                 inclusive start (UTC)
-- param: end TIMESTAMPTZ                   exclusive end (UTC)
-- param: interval VARCHAR = month          day | week (ISO, Monday) | month | range (the whole range)
-- param: subscribe_event VARCHAR = subscribe  event_type that starts (or changes) a subscription; its revenue is the monthly amount
-- param: renew_event VARCHAR = payment     event_type of a recurring payment; its revenue is the (possibly new) monthly amount
-- param: cancel_event VARCHAR = cancel     event_type that ends a subscription (amount 0)
-- param: breakdown VARCHAR = NULL          device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL           keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL          keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL             keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL          keep users whose acquisition_channel is one of these; NULL: all
-- columns: period DATE, segment VARCHAR, complete BOOLEAN, opening_mrr DOUBLE, new_mrr DOUBLE,
--          expansion_mrr DOUBLE, reactivation_mrr DOUBLE, contraction_mrr DOUBLE, churned_mrr DOUBLE,
--          net_new_mrr DOUBLE, closing_mrr DOUBLE, opening_subscribers BIGINT,
--          new_subscribers BIGINT, churned_subscribers BIGINT, closing_subscribers BIGINT
--
-- Each user's MRR is a step function: a subscribe or renewal event sets it to the event's revenue
-- (events of those types without revenue are ignored), a cancel event sets it to 0. Every change
-- is a movement: new (from 0, first time ever), reactivation (from 0, paid before), expansion
-- (up from > 0), contraction (down, still > 0), churn (to 0). Opening MRR sums every user's
-- amount just before the period (or start); closing MRR just before its end (or end), so
-- closing = opening + new + reactivation + expansion - contraction - churned. The whole history
-- before start is read. Contraction and churn are positive amounts. Subscribers: users with MRR > 0.
--
-- Same result as ../business_mrr.sql (a test keeps them equal): the subscription events come from
-- the money_events rollup (every event with a revenue, and every cancel event; ~4% of the events)
-- instead of a scan of every event ever. Run only when rollups.usable() says it is fresh and
-- cancel_event is one of the types it keeps (auterity_lab.rollups.MONEY_CANCEL_EVENTS).
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
changes AS (
    SELECT sc.segment, e.user_id, e.created_at AS ts, e.id,
           CASE WHEN e.event_type = $cancel_event THEN 0.0 ELSE CAST(e.revenue AS DOUBLE) END AS amount
    FROM money_events AS e
    JOIN scope AS sc ON sc.user_id = e.user_id
    WHERE e.created_at < $end
      AND (e.event_type = $cancel_event
           OR (e.event_type IN ($subscribe_event, $renew_event) AND e.revenue IS NOT NULL))
),
moves AS (
    SELECT segment, ts, amount,
           COALESCE(LAG(amount) OVER w, 0.0) AS before,
           COUNT(*) FILTER (WHERE amount > 0) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS paid_before
    FROM changes
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, id)
),
classified AS (
    SELECT segment, ts, amount - before AS delta,
           CASE WHEN amount > 0 AND before <= 0 THEN 1 WHEN amount <= 0 AND before > 0 THEN -1 ELSE 0 END AS subscriber_delta,
           CASE WHEN before <= 0 AND amount > 0 AND paid_before = 0 THEN 'new'
                WHEN before <= 0 AND amount > 0 THEN 'reactivation'
                WHEN before > 0 AND amount <= 0 THEN 'churn'
                WHEN amount > before THEN 'expansion'
                WHEN amount < before THEN 'contraction' END AS kind,
           CASE $interval WHEN 'day' THEN CAST(ts AS DATE)
                          WHEN 'week' THEN CAST(date_trunc('week', ts) AS DATE)
                          WHEN 'month' THEN CAST(date_trunc('month', ts) AS DATE)
                          WHEN 'range' THEN CAST($start AS DATE) END AS period
    FROM moves
),
opening AS (
    SELECT segment, SUM(delta) AS mrr, SUM(subscriber_delta) AS subscribers
    FROM classified
    WHERE ts < $start
    GROUP BY segment
),
movements AS (
    SELECT period, segment,
           SUM(delta) FILTER (WHERE kind = 'new') AS new_mrr,
           SUM(delta) FILTER (WHERE kind = 'expansion') AS expansion_mrr,
           SUM(delta) FILTER (WHERE kind = 'reactivation') AS reactivation_mrr,
           -SUM(delta) FILTER (WHERE kind = 'contraction') AS contraction_mrr,
           -SUM(delta) FILTER (WHERE kind = 'churn') AS churned_mrr,
           SUM(delta) AS net_new_mrr,
           COUNT(*) FILTER (WHERE subscriber_delta = 1) AS new_subscribers,
           COUNT(*) FILTER (WHERE subscriber_delta = -1) AS churned_subscribers,
           SUM(subscriber_delta) AS net_subscribers
    FROM classified
    WHERE ts >= $start
    GROUP BY period, segment
),
rolled AS (
    SELECT p.period, g.segment, p.period_end,
           COALESCE(o.mrr, 0.0) + COALESCE(SUM(m.net_new_mrr) OVER w, 0.0) AS closing_mrr,
           COALESCE(o.subscribers, 0) + COALESCE(SUM(m.net_subscribers) OVER w, 0) AS closing_subscribers,
           COALESCE(m.new_mrr, 0.0) AS new_mrr,
           COALESCE(m.expansion_mrr, 0.0) AS expansion_mrr,
           COALESCE(m.reactivation_mrr, 0.0) AS reactivation_mrr,
           COALESCE(m.contraction_mrr, 0.0) AS contraction_mrr,
           COALESCE(m.churned_mrr, 0.0) AS churned_mrr,
           COALESCE(m.net_new_mrr, 0.0) AS net_new_mrr,
           COALESCE(m.new_subscribers, 0) AS new_subscribers,
           COALESCE(m.churned_subscribers, 0) AS churned_subscribers,
           COALESCE(m.net_subscribers, 0) AS net_subscribers
    FROM periods AS p
    CROSS JOIN (SELECT DISTINCT segment FROM changes) AS g
    LEFT JOIN movements AS m ON m.period = p.period AND m.segment = g.segment
    LEFT JOIN opening AS o ON o.segment = g.segment
    WINDOW w AS (PARTITION BY g.segment ORDER BY p.period)
)
SELECT period, segment,
       CASE WHEN $interval = 'range' THEN TRUE
            ELSE CAST(period AS TIMESTAMPTZ) >= $start AND CAST(period_end AS TIMESTAMPTZ) <= $end
       END AS complete,
       closing_mrr - net_new_mrr AS opening_mrr,
       new_mrr, expansion_mrr, reactivation_mrr, contraction_mrr, churned_mrr, net_new_mrr,
       closing_mrr,
       CAST(closing_subscribers - net_subscribers AS BIGINT) AS opening_subscribers,
       new_subscribers, churned_subscribers,
       CAST(closing_subscribers AS BIGINT) AS closing_subscribers
FROM rolled
ORDER BY segment, period
