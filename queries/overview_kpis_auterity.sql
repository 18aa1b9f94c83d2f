-- purpose: Auterity headline KPIs (users, sessions, revenue) for the Overview tab and unified analytics
-- grain: one row per metric, in a fixed order
-- param: start TIMESTAMPTZ   inclusive start (UTC)
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: system VARCHAR, metric VARCHAR, value DOUBLE, unit VARCHAR
--
-- Same definitions as the auterity rows of overview_kpis.sql (a test keeps them equal). Counts are
-- 0 and averages NULL when the range has no rows.
WITH sessions AS (
    SELECT COUNT(DISTINCT user_id) AS active_users,
           COUNT(*) AS sessions,
           AVG(CAST(duration AS DOUBLE)) AS avg_session_duration
    FROM user_sessions
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
), new_users AS (
    SELECT COUNT(*) AS new_users
    FROM users
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
), revenue AS (
    SELECT COALESCE(SUM(CAST(revenue AS DOUBLE)), 0) AS revenue
    FROM events
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
)
SELECT 'auterity' AS system, 'active_users' AS metric, CAST(active_users AS DOUBLE) AS value, 'users' AS unit FROM sessions
UNION ALL SELECT 'auterity', 'new_users', CAST(new_users AS DOUBLE), 'users' FROM new_users
UNION ALL SELECT 'auterity', 'sessions', CAST(sessions AS DOUBLE), 'sessions' FROM sessions
UNION ALL SELECT 'auterity', 'avg_session_duration', avg_session_duration, 'seconds' FROM sessions
UNION ALL SELECT 'auterity', 'revenue', revenue, 'USD' FROM revenue
