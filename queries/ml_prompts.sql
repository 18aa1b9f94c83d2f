-- purpose: prompt analytics (spec getPromptAnalytics): volume, rating, latency, tokens and cost per prompt hash and prompt version (needs the prompt_output_costs view of attach_costs)
-- grain: one row per (prompt_hash, prompt_version) with at least one output in the range, ordered by requests descending, then hash, version
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: prompt_hash VARCHAR, prompt_version VARCHAR, prompt_preview VARCHAR, requests BIGINT,
--          users BIGINT, models BIGINT, errors BIGINT, error_rate DOUBLE, latency_p50_ms DOUBLE,
--          latency_p95_ms DOUBLE, mean_input_tokens DOUBLE, mean_output_tokens DOUBLE,
--          rated BIGINT, rating_sum DOUBLE, mean_rating DOUBLE, rating_sd DOUBLE,
--          high_rated_share DOUBLE, cost_usd DOUBLE, unpriced_requests BIGINT,
--          first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ
--
-- prompt_preview is the first 80 characters of the prompt text (as extracted, after privacy
-- rules). Latency over non-error requests; ratings from user_rating; cost_usd sums priced
-- outputs (NULL when none is priced).
SELECT
    p.prompt_hash,
    p.prompt_version,
    left(MIN(p.prompt), 80) AS prompt_preview,
    COUNT(*) AS requests,
    COUNT(DISTINCT p.user_id) AS users,
    COUNT(DISTINCT p.model_id) AS models,
    COUNT(*) FILTER (WHERE p.status = 'error') AS errors,
    AVG(CASE WHEN p.status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
    quantile_cont(p.response_time_ms, 0.50) FILTER (WHERE p.status <> 'error') AS latency_p50_ms,
    quantile_cont(p.response_time_ms, 0.95) FILTER (WHERE p.status <> 'error') AS latency_p95_ms,
    AVG(CAST(p.input_tokens AS DOUBLE)) AS mean_input_tokens,
    AVG(CAST(p.output_tokens AS DOUBLE)) AS mean_output_tokens,
    COUNT(p.user_rating) AS rated,
    SUM(CAST(p.user_rating AS DOUBLE)) AS rating_sum,
    AVG(CAST(p.user_rating AS DOUBLE)) AS mean_rating,
    stddev_samp(CAST(p.user_rating AS DOUBLE)) AS rating_sd,
    CAST(COUNT(*) FILTER (WHERE p.user_rating >= 4) AS DOUBLE) / NULLIF(COUNT(p.user_rating), 0)
        AS high_rated_share,
    SUM(p.cost_usd) AS cost_usd,
    COUNT(*) FILTER (WHERE NOT p.priced) AS unpriced_requests,
    MIN(p.created_at) AS first_seen,
    MAX(p.created_at) AS last_seen
FROM prompt_output_costs AS p  -- one row per output with its own columns and its cost
WHERE p.created_at >= $start AND p.created_at < $end
  AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
  AND ($model IS NULL OR p.model_id = $model)
  AND ($model_version IS NULL OR p.model_version = $model_version)
  AND ($prompt_version IS NULL OR p.prompt_version = $prompt_version)
GROUP BY p.prompt_hash, p.prompt_version
ORDER BY requests DESC, p.prompt_hash, p.prompt_version
