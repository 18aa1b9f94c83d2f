-- purpose: AI model performance per time bucket (hour, day or week) and model
-- grain: one row per (period, model_id) with at least one prompt output, ordered by period, model
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: grain VARCHAR = 'day'           bucket: hour, day or week (UTC; weeks start Monday)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: period TIMESTAMPTZ, model_id VARCHAR, requests BIGINT, errors BIGINT,
--          error_rate DOUBLE, latency_p50_ms DOUBLE, latency_p95_ms DOUBLE,
--          latency_p99_ms DOUBLE, input_tokens BIGINT, output_tokens BIGINT, rated BIGINT,
--          mean_rating DOUBLE, rating_sd DOUBLE, high_rated_share DOUBLE
--
-- Definitions as in ml_model_performance (latency over non-error requests, ratings from
-- user_rating, high rated = user_rating >= 4).
SELECT
    date_trunc($grain, created_at) AS period,
    model_id,
    COUNT(*) AS requests,
    COUNT(*) FILTER (WHERE status = 'error') AS errors,
    AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
    quantile_cont(response_time_ms, 0.50) FILTER (WHERE status <> 'error') AS latency_p50_ms,
    quantile_cont(response_time_ms, 0.95) FILTER (WHERE status <> 'error') AS latency_p95_ms,
    quantile_cont(response_time_ms, 0.99) FILTER (WHERE status <> 'error') AS latency_p99_ms,
    CAST(SUM(COALESCE(input_tokens, tokens_used - output_tokens)) AS BIGINT) AS input_tokens,
    CAST(SUM(COALESCE(output_tokens, tokens_used - input_tokens)) AS BIGINT) AS output_tokens,
    COUNT(user_rating) AS rated,
    AVG(CAST(user_rating AS DOUBLE)) AS mean_rating,
    stddev_samp(CAST(user_rating AS DOUBLE)) AS rating_sd,
    CAST(COUNT(*) FILTER (WHERE user_rating >= 4) AS DOUBLE) / NULLIF(COUNT(user_rating), 0)
        AS high_rated_share
FROM prompt_outputs
WHERE created_at >= $start AND created_at < $end
  AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
  AND ($model IS NULL OR model_id = $model)
  AND ($model_version IS NULL OR model_version = $model_version)
  AND ($prompt_version IS NULL OR prompt_version = $prompt_version)
GROUP BY date_trunc($grain, created_at), model_id
ORDER BY period, model_id
