-- purpose: Auterity headline KPIs (users, sessions, revenue) for the Overview tab and unified analytics, from the user_day_activity rollup
-- grain: one row per metric, in a fixed order
-- param: start TIMESTAMPTZ   inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ     exclusive end (UTC midnight)
-- columns: system VARCHAR, metric VARCHAR, value DOUBLE, unit VARCHAR
--
-- Same result as ../overview_kpis_auterity.sql (a test keeps them equal) for ranges of whole UTC days,
-- with the session figures read from the user_day_activity rollup (auterity_lab.rollups). Run only
-- when rollups.usable() says the rollup is fresh and the bounds are midnights. Counts are 0 and
-- averages NULL when the range has no rows.
-- Events are selected by their UTC day partition alone (the bounds are midnights, so the same
-- rows): created_at is then not read, which halves the time of the events scan.
WITH sessions AS (
    SELECT COUNT(DISTINCT user_id) AS active_users,
           COALESCE(SUM(sessions), 0) AS sessions,
           CAST(SUM(duration_sum) AS DOUBLE) / NULLIF(SUM(duration_count), 0) AS avg_session_duration
    FROM user_day_activity
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
), new_users AS (
    SELECT COUNT(*) AS new_users
    FROM users
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
), revenue AS (
    SELECT COALESCE(SUM(CAST(revenue AS DOUBLE)), 0) AS revenue
    FROM events
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
)
SELECT 'auterity' AS system, 'active_users' AS metric, CAST(active_users AS DOUBLE) AS value, 'users' AS unit FROM sessions
UNION ALL SELECT 'auterity', 'new_users', CAST(new_users AS DOUBLE), 'users' FROM new_users
UNION ALL SELECT 'auterity', 'sessions', CAST(sessions AS DOUBLE), 'sessions' FROM sessions
UNION ALL SELECT 'auterity', 'avg_session_duration', avg_session_duration, 'seconds' FROM sessions
UNION ALL SELECT 'auterity', 'revenue', revenue, 'USD' FROM revenue
