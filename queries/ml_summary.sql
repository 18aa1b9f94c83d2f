-- purpose: headline AI/ML figures of one date range (spec getMLAnalytics) (needs the prompt_output_costs view of attach_costs)
-- grain: one row per metric, in a fixed order
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: metric VARCHAR, value DOUBLE, unit VARCHAR
--
-- Definitions as ml_model_performance (errors = status 'error'; latency over non-error
-- requests; ratings = user_rating, high rated >= 4, feedback_rate = rated / requests) and
-- ml_cost_by_model (cost over priced outputs: NULL when there are outputs but none is priced,
-- 0 when there are no outputs; cost_per_user counts the calls made by users). A statistic
-- without rows is NULL; counts are 0.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at. The two latencies come from one quantile_cont over a
-- list of fractions (one sort instead of two; the same values).
WITH o AS (
    SELECT *, input_tokens AS in_tokens, output_tokens AS out_tokens
    FROM prompt_output_costs  -- one row per output with its own columns and its cost
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
      AND ($prompt_version IS NULL OR prompt_version = $prompt_version)
), s AS (
    SELECT
        COUNT(*) AS requests,
        COUNT(DISTINCT user_id) AS users,
        COUNT(DISTINCT model_id) AS models,
        AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
        quantile_cont(response_time_ms, [0.50, 0.95]) FILTER (WHERE status <> 'error')
            AS latency_quantiles,
        AVG(CAST(user_rating AS DOUBLE)) AS mean_rating,
        CAST(COUNT(*) FILTER (WHERE user_rating >= 4) AS DOUBLE) / NULLIF(COUNT(user_rating), 0)
            AS high_rated_share,
        CAST(COUNT(user_rating) AS DOUBLE) / NULLIF(COUNT(*), 0) AS feedback_rate,
        COALESCE(SUM(in_tokens), 0) AS input_tokens,
        COALESCE(SUM(out_tokens), 0) AS output_tokens,
        CASE WHEN COUNT(*) FILTER (WHERE priced) = 0 AND COUNT(*) > 0 THEN NULL
             ELSE COALESCE(SUM(cost_usd), 0.0) END AS cost_usd,
        COUNT(*) FILTER (WHERE NOT priced) AS unpriced_requests,
        SUM(cost_usd) / NULLIF(COUNT(*) FILTER (WHERE priced), 0) AS cost_per_request,
        SUM(cost_usd) FILTER (WHERE user_id IS NOT NULL)
            / NULLIF(COUNT(DISTINCT user_id) FILTER (WHERE priced), 0) AS cost_per_user,
        SUM(cost_usd) / NULLIF(COUNT(*) FILTER (WHERE priced AND user_rating >= 4), 0)
            AS cost_per_high_rated_answer
    FROM o
)
SELECT 'requests' AS metric, CAST(requests AS DOUBLE) AS value, 'requests' AS unit FROM s
UNION ALL SELECT 'users', CAST(users AS DOUBLE), 'users' FROM s
UNION ALL SELECT 'models', CAST(models AS DOUBLE), 'models' FROM s
UNION ALL SELECT 'error_rate', error_rate, 'share' FROM s
UNION ALL SELECT 'latency_p50_ms', latency_quantiles[1], 'ms' FROM s
UNION ALL SELECT 'latency_p95_ms', latency_quantiles[2], 'ms' FROM s
UNION ALL SELECT 'mean_rating', mean_rating, 'rating 1-5' FROM s
UNION ALL SELECT 'high_rated_share', high_rated_share, 'share' FROM s
UNION ALL SELECT 'feedback_rate', feedback_rate, 'share' FROM s
UNION ALL SELECT 'input_tokens', CAST(input_tokens AS DOUBLE), 'tokens' FROM s
UNION ALL SELECT 'output_tokens', CAST(output_tokens AS DOUBLE), 'tokens' FROM s
UNION ALL SELECT 'cost_usd', cost_usd, 'USD' FROM s
UNION ALL SELECT 'unpriced_requests', CAST(unpriced_requests AS DOUBLE), 'requests' FROM s
UNION ALL SELECT 'cost_per_request', cost_per_request, 'USD' FROM s
UNION ALL SELECT 'cost_per_user', cost_per_user, 'USD' FROM s
UNION ALL SELECT 'cost_per_high_rated_answer', cost_per_high_rated_answer, 'USD' FROM s
