-- purpose: prompt template versions side by side: volume, rating, latency, tokens, cost per prompt_version (needs the prompt_output_costs view of attach_costs)
-- grain: one row per prompt_version with at least one output in the range, ordered by version
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- columns: prompt_version VARCHAR, requests BIGINT, prompts BIGINT, users BIGINT,
--          error_rate DOUBLE, latency_p50_ms DOUBLE, latency_p95_ms DOUBLE,
--          mean_input_tokens DOUBLE, mean_output_tokens DOUBLE, rated BIGINT, mean_rating DOUBLE,
--          high_rated_share DOUBLE, cost_per_request DOUBLE, first_seen TIMESTAMPTZ
--
-- prompts counts distinct prompt hashes; definitions otherwise as ml_prompts.
SELECT
    p.prompt_version,
    COUNT(*) AS requests,
    COUNT(DISTINCT p.prompt_hash) AS prompts,
    COUNT(DISTINCT p.user_id) AS users,
    AVG(CASE WHEN p.status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
    quantile_cont(p.response_time_ms, 0.50) FILTER (WHERE p.status <> 'error') AS latency_p50_ms,
    quantile_cont(p.response_time_ms, 0.95) FILTER (WHERE p.status <> 'error') AS latency_p95_ms,
    AVG(CAST(c.input_tokens AS DOUBLE)) AS mean_input_tokens,
    AVG(CAST(c.output_tokens AS DOUBLE)) AS mean_output_tokens,
    COUNT(p.user_rating) AS rated,
    AVG(CAST(p.user_rating AS DOUBLE)) AS mean_rating,
    CAST(COUNT(*) FILTER (WHERE p.user_rating >= 4) AS DOUBLE) / NULLIF(COUNT(p.user_rating), 0)
        AS high_rated_share,
    SUM(c.cost_usd) / NULLIF(COUNT(*) FILTER (WHERE c.priced), 0) AS cost_per_request,
    MIN(p.created_at) AS first_seen
FROM prompt_outputs AS p
JOIN prompt_output_costs AS c ON c.prompt_output_id = p.id
WHERE p.created_at >= $start AND p.created_at < $end
  AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
  AND c.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)  -- prunes the cost view too
  AND p.prompt_version IS NOT NULL
  AND ($model IS NULL OR p.model_id = $model)
  AND ($model_version IS NULL OR p.model_version = $model_version)
GROUP BY p.prompt_version
ORDER BY p.prompt_version
