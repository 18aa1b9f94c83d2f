-- purpose: daily sums of the AI calls of one deployment scope in a window, for the deployment check (spec §10.3: response time, error rate, throughput, user satisfaction)
-- grain: one row per UTC day in [start, end) with at least one matching call, ordered by day
-- param: start TIMESTAMPTZ                inclusive start (UTC) of the window
-- param: end TIMESTAMPTZ                  exclusive end (UTC)
-- param: model_id VARCHAR = NULL          only calls of this model; NULL means every model
-- param: model_version VARCHAR = NULL     only calls of this model_version; NULL means every version
-- param: prompt_version VARCHAR = NULL    only calls with this prompt_version; NULL means every one
-- param: other_than_model_id VARCHAR = NULL   only calls of the other models (the concurrent control of a model's deployment); NULL means no exclusion
-- columns: day DATE, requests BIGINT, errors BIGINT, timed BIGINT, latency_sum DOUBLE,
--          log_latency_sum DOUBLE, rated BIGINT, satisfied BIGINT, rating_sum DOUBLE
--
-- Sums, not means, so that a window's pooled values and each day's values both follow exactly:
-- errors have status = 'error'; timed calls have a response_time_ms (latency_sum in ms,
-- log_latency_sum of ln(max(ms, 1))); satisfied calls are rated 4 or more (the spec's
-- high-rated requests); rating_sum adds user_rating over the rated calls.
SELECT
    date AS day,  -- created_at's UTC day (the partition: far cheaper than date_trunc of a TIMESTAMPTZ)
    COUNT(*) AS requests,
    COUNT(*) FILTER (WHERE status = 'error') AS errors,
    COUNT(response_time_ms) AS timed,
    SUM(CAST(response_time_ms AS DOUBLE)) AS latency_sum,
    SUM(ln(GREATEST(CAST(response_time_ms AS DOUBLE), 1.0))) AS log_latency_sum,
    COUNT(user_rating) AS rated,
    COUNT(*) FILTER (WHERE user_rating >= 4) AS satisfied,
    SUM(CAST(user_rating AS DOUBLE)) AS rating_sum
FROM prompt_outputs
WHERE created_at >= $start AND created_at < $end
  AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
  AND ($model_id IS NULL OR model_id = $model_id)
  AND ($model_version IS NULL OR model_version = $model_version)
  AND ($prompt_version IS NULL OR prompt_version = $prompt_version)
  AND ($other_than_model_id IS NULL OR model_id IS DISTINCT FROM $other_than_model_id)
GROUP BY 1
ORDER BY 1
