-- purpose: one daily series per system for the Overview tab (users, AI calls, workflow runs)
-- grain: one row per UTC day in [start, end), days without rows included (counts 0, others NULL)
-- param: start TIMESTAMPTZ   inclusive start (UTC); truncated to its day
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: date DATE, active_users BIGINT, sessions BIGINT, avg_session_duration DOUBLE,
--          revenue DOUBLE, ai_requests BIGINT, ai_p95_latency DOUBLE, ai_error_rate DOUBLE,
--          workflow_runs BIGINT, workflow_failure_rate DOUBLE
--
-- The per-system files overview_daily_<system>.sql hold the same definitions (the library reads
-- those, so one broken system cannot stop the others); a test keeps them equal to this file.
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
), ai AS (
    SELECT date, COUNT(*) AS ai_requests,
           quantile_cont(response_time_ms, 0.95) AS ai_p95_latency,
           AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS ai_error_rate
    FROM prompt_outputs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY date
), wf AS (
    SELECT date, COUNT(*) AS workflow_runs,
           AVG(CASE WHEN status = 'failed' THEN 1.0 ELSE 0.0 END) AS workflow_failure_rate
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY date
)
SELECT days.date,
       COALESCE(s.active_users, 0) AS active_users,
       COALESCE(s.sessions, 0) AS sessions,
       s.avg_session_duration,
       COALESCE(r.revenue, 0) AS revenue,
       COALESCE(ai.ai_requests, 0) AS ai_requests,
       ai.ai_p95_latency,
       ai.ai_error_rate,
       COALESCE(wf.workflow_runs, 0) AS workflow_runs,
       wf.workflow_failure_rate
FROM days
LEFT JOIN s ON s.date = days.date
LEFT JOIN r ON r.date = days.date
LEFT JOIN ai ON ai.date = days.date
LEFT JOIN wf ON wf.date = days.date
ORDER BY days.date
