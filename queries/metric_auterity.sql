-- purpose: Auterity metrics of the metric catalog (users, sessions, engagement, conversion, revenue) per period
-- grain: one row per UTC period (day or hour) in [start, end), empty periods included (counts 0, averages NULL)
-- param: start TIMESTAMPTZ      inclusive start (UTC); the first period is the one holding it
-- param: end TIMESTAMPTZ        exclusive end (UTC)
-- param: grain VARCHAR = day    period length: 'day' or 'hour'
-- columns: period TIMESTAMPTZ, active_users BIGINT, new_users BIGINT, sessions BIGINT,
--          avg_session_duration DOUBLE, conversion_rate DOUBLE, revenue DOUBLE, revenue_events BIGINT
--
-- active_users: distinct users with a session; new_users: accounts created (signups);
-- avg_session_duration: mean of user_sessions.duration (seconds) over the period's sessions;
-- conversion_rate: mean of each session's own conversion rate (as daily_user_analytics);
-- revenue: sum of events.revenue (USD), 0 when none; revenue_events: events carrying revenue.
WITH periods AS (
    SELECT p AS period
    FROM range(date_trunc($grain, $start), $end,
               CASE WHEN $grain = 'hour' THEN INTERVAL 1 HOUR WHEN $grain = 'day' THEN INTERVAL 1 DAY
                    ELSE error('grain must be ''day'' or ''hour'', not ' || $grain) END) AS t(p)
), s AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, created_at) END AS period,
           COUNT(DISTINCT user_id) AS active_users,
           COUNT(*) AS sessions,
           AVG(CAST(duration AS DOUBLE)) AS avg_session_duration,
           AVG(CAST(conversion_rate AS DOUBLE)) AS conversion_rate
    FROM user_sessions
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY 1
), u AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, created_at) END AS period, COUNT(*) AS new_users
    FROM users
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY 1
), r AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, created_at) END AS period,
           SUM(CAST(revenue AS DOUBLE)) AS revenue,
           COUNT(revenue) AS revenue_events
    FROM events
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
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
