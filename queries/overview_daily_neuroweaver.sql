-- purpose: Neuroweaver daily series (AI calls, p95 latency, error rate) for the Overview tab
-- grain: one row per UTC day in [start, end), days without rows included (counts 0, others NULL)
-- param: start TIMESTAMPTZ   inclusive start (UTC); truncated to its day
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: date DATE, ai_requests BIGINT, ai_p95_latency DOUBLE, ai_error_rate DOUBLE
--
-- Same definitions as the matching columns of overview_daily.sql (a test keeps them equal).
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH days AS (
    SELECT CAST(d AS DATE) AS date
    FROM range(CAST(CAST($start AS DATE) AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) AS t(d)
), ai AS (
    SELECT date, COUNT(*) AS ai_requests,
           quantile_cont(response_time_ms, 0.95) AS ai_p95_latency,
           AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS ai_error_rate
    FROM prompt_outputs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
    GROUP BY date
)
SELECT days.date,
       COALESCE(ai.ai_requests, 0) AS ai_requests,
       ai.ai_p95_latency,
       ai.ai_error_rate
FROM days
LEFT JOIN ai ON ai.date = days.date
ORDER BY days.date
