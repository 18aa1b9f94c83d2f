-- purpose: the spec's materialized view hourly_ai_performance (§4.3) for the workbench's tenant
-- grain: one row per UTC hour and model_id with at least one prompt output, ordered by hour, model
-- param: start TIMESTAMPTZ = NULL   inclusive start (UTC); NULL means from the first output
-- param: end TIMESTAMPTZ = NULL     exclusive end (UTC); NULL means through the last output
-- columns: hour TIMESTAMPTZ, model_id VARCHAR, request_count BIGINT, avg_response_time DOUBLE,
--          avg_rating DOUBLE, total_tokens BIGINT, high_rated_requests BIGINT
--
-- As the spec: every output counts as a request (errors included); avg_rating and
-- high_rated_requests (user_rating >= 4) use the rated outputs only.
SELECT
    date_trunc('hour', created_at) AS hour,
    model_id,
    COUNT(*) AS request_count,
    AVG(CAST(response_time_ms AS DOUBLE)) AS avg_response_time,
    AVG(CAST(user_rating AS DOUBLE)) AS avg_rating,
    CAST(SUM(tokens_used) AS BIGINT) AS total_tokens,
    COUNT(*) FILTER (WHERE user_rating >= 4) AS high_rated_requests
FROM prompt_outputs
WHERE ($start IS NULL OR (created_at >= $start AND date >= CAST($start AS DATE)))
  AND ($end IS NULL OR (created_at < $end AND date <= CAST($end AS DATE)))
GROUP BY date_trunc('hour', created_at), model_id
ORDER BY hour, model_id
