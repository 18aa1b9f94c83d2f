-- purpose: log response times of the successful AI calls per day, model and side of a deployment time, for the deployment check's comparison against the other models (spec §10.3)
-- grain: one row per UTC day, model_id and side (before or after deployed_at) with at least one timed successful call in [start, end), ordered by day, model_id, after
-- param: start TIMESTAMPTZ                inclusive start (UTC) of the baseline
-- param: end TIMESTAMPTZ                  exclusive end (UTC) of the window
-- param: deployed_at TIMESTAMPTZ          the deployment time: calls from it on are "after"
-- columns: day DATE, model_id VARCHAR, after BOOLEAN, calls BIGINT, log_latency_sum DOUBLE,
--          log_latency_sq_sum DOUBLE
--
-- Sums of ln(max(ms, 1)) and of its square, so that a weighted two-way (day, model) fit of the
-- cell means and its residual variance follow exactly. Failed calls are left out: their
-- response time measures a failure, not the model (the error rate is checked on its own).
SELECT
    date AS day,  -- created_at's UTC day (the partition: far cheaper than date_trunc of a TIMESTAMPTZ)
    model_id,
    created_at >= $deployed_at AS after,
    COUNT(*) AS calls,
    SUM(ln(GREATEST(CAST(response_time_ms AS DOUBLE), 1.0))) AS log_latency_sum,
    SUM(ln(GREATEST(CAST(response_time_ms AS DOUBLE), 1.0)) ^ 2) AS log_latency_sq_sum
FROM prompt_outputs
WHERE created_at >= $start AND created_at < $end
  AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
  AND model_id IS NOT NULL
  AND response_time_ms IS NOT NULL
  AND status IS DISTINCT FROM 'error'
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
