-- purpose: Auterity metrics of the metric catalog per UTC day, from the daily_user_analytics rollup
-- grain: one row per UTC day in [start, end), empty days included (counts 0, averages NULL)
-- param: start TIMESTAMPTZ      inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ        exclusive end (UTC midnight)
-- param: grain VARCHAR = day    must be 'day' (an hour grain reads the rows: ../metric_auterity.sql)
-- columns: period TIMESTAMPTZ, active_users BIGINT, new_users BIGINT, sessions BIGINT,
--          avg_session_duration DOUBLE, conversion_rate DOUBLE, revenue DOUBLE, revenue_events BIGINT
--
-- Same result as ../metric_auterity.sql with grain 'day' (a test keeps them equal) for ranges of
-- whole UTC days: the session figures are the day's row of the daily_user_analytics rollup
-- (auterity_lab.rollups; the same definitions: distinct users, sessions, mean duration, mean of
-- each session's conversion rate) instead of an exact COUNT(DISTINCT user_id) over every session.
-- Events are selected by their UTC day partition alone (the bounds are midnights, so the same
-- rows), which spares reading created_at. Run only when rollups.usable() accepts the bounds.
WITH periods AS (
    SELECT p AS period
    FROM range(CAST($start AS TIMESTAMPTZ), $end,
               CASE WHEN $grain = 'day' THEN INTERVAL 1 DAY
                    ELSE error('the rollup form of metric_auterity is daily, not ' || $grain) END)
         AS t(p)
), s AS (
    SELECT CAST(date AS TIMESTAMPTZ) AS period,
           unique_users AS active_users,
           total_sessions AS sessions,
           avg_session_duration,
           avg_conversion_rate AS conversion_rate
    FROM daily_user_analytics
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
), u AS (
    SELECT CAST(date AS TIMESTAMPTZ) AS period, COUNT(*) AS new_users
    FROM users
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY 1
), r AS (
    SELECT CAST(date AS TIMESTAMPTZ) AS period,
           SUM(CAST(revenue AS DOUBLE)) AS revenue,
           COUNT(revenue) AS revenue_events
    FROM events
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY 1
)
SELECT periods.period,
       COALESCE(s.active_users, 0) AS active_users,
       COALESCE(u.new_users, 0) AS new_users,
       COALESCE(s.sessions, 0) AS sessions,
       s.avg_session_duration,
       s.conversion_rate,
       COALESCE(r.revenue, 0) AS revenue,
       COALESCE(r.revenue_events, 0) AS revenue_events
FROM periods
LEFT JOIN s ON s.period = periods.period
LEFT JOIN u ON u.period = periods.period
LEFT JOIN r ON r.period = periods.period
ORDER BY periods.period
