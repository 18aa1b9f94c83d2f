-- purpose: headline KPIs of all three systems for the workbench's tenant over one date range
-- grain: one row per (system, metric), in a fixed order
-- param: start TIMESTAMPTZ   inclusive start (UTC)
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: system VARCHAR, metric VARCHAR, value DOUBLE, unit VARCHAR
--
-- Rates are shares in [0, 1]. Latency and duration percentiles are continuous (quantile_cont).
-- ai_error_rate counts status = 'error'; workflow_failure_rate counts status = 'failed' among all
-- runs (cancelled runs are neither). A metric with no rows in the range is NULL, counts are 0.
--
-- The per-system files overview_kpis_<system>.sql hold the same definitions (the library reads
-- those, so one broken system cannot stop the others); a test keeps them equal to this file.
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
), ai AS (
    SELECT COUNT(*) AS requests,
           quantile_cont(response_time_ms, 0.95) AS p95_latency,
           AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
           AVG(CAST(user_rating AS DOUBLE)) AS mean_rating,
           COALESCE(SUM(CAST(tokens_used AS BIGINT)), 0) AS tokens
    FROM prompt_outputs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
), wf AS (
    SELECT COUNT(*) AS runs,
           AVG(CASE WHEN status = 'failed' THEN 1.0 ELSE 0.0 END) AS failure_rate,
           quantile_cont(duration_ms, 0.95) AS p95_duration
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
)
SELECT 'auterity' AS system, 'active_users' AS metric, CAST(active_users AS DOUBLE) AS value, 'users' AS unit FROM sessions
UNION ALL SELECT 'auterity', 'new_users', CAST(new_users AS DOUBLE), 'users' FROM new_users
UNION ALL SELECT 'auterity', 'sessions', CAST(sessions AS DOUBLE), 'sessions' FROM sessions
UNION ALL SELECT 'auterity', 'avg_session_duration', avg_session_duration, 'seconds' FROM sessions
UNION ALL SELECT 'auterity', 'revenue', revenue, 'USD' FROM revenue
UNION ALL SELECT 'neuroweaver', 'ai_requests', CAST(requests AS DOUBLE), 'requests' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_p95_latency', p95_latency, 'ms' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_error_rate', error_rate, 'share' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_mean_rating', mean_rating, 'rating 1-5' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_tokens', CAST(tokens AS DOUBLE), 'tokens' FROM ai
UNION ALL SELECT 'relaycore', 'workflow_runs', CAST(runs AS DOUBLE), 'runs' FROM wf
UNION ALL SELECT 'relaycore', 'workflow_failure_rate', failure_rate, 'share' FROM wf
UNION ALL SELECT 'relaycore', 'workflow_p95_duration', p95_duration, 'ms' FROM wf
