-- purpose: Auterity daily series (active users, sessions, session length, revenue) for the Overview tab
-- grain: one row per UTC day in [start, end), days without rows included (counts 0, averages NULL)
-- param: start TIMESTAMPTZ   inclusive start (UTC); truncated to its day
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: date DATE, active_users BIGINT, sessions BIGINT, avg_session_duration DOUBLE,
--          revenue DOUBLE
--
-- Same definitions as the matching columns of overview_daily.sql (a test keeps them equal).
WITH days AS (
    SELECT CAST(d AS DATE) AS date
    FROM range(CAST(CAST($start AS DATE) AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) AS t(d)
), s AS (
    SELECT date, COUNT(DISTINCT user_id) AS active_users, COUNT(*) AS sessions,
           AVG(CAST(duration AS DOUBLE)) AS avg_session_duration
    FROM user_sessions
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY date
), r AS (
    SELECT date, SUM(CAST(revenue AS DOUBLE)) AS revenue
    FROM events
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY date
)
SELECT days.date,
       COALESCE(s.active_users, 0) AS active_users,
       COALESCE(s.sessions, 0) AS sessions,
       s.avg_session_duration,
       COALESCE(r.revenue, 0) AS revenue
FROM days
LEFT JOIN s ON s.date = days.date
LEFT JOIN r ON r.date = days.date
ORDER BY days.date
