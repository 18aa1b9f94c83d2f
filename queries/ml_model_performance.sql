-- purpose: AI model performance per model and version (spec getModelPerformance): volume, errors, latency percentiles, tokens, ratings
-- grain: one row per (model_id, model_version) with at least one prompt output in the range, ordered by model, version
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: model_id VARCHAR, model_version VARCHAR, requests BIGINT, errors BIGINT,
--          error_rate DOUBLE, latency_p50_ms DOUBLE, latency_p95_ms DOUBLE, latency_p99_ms DOUBLE,
--          latency_mean_ms DOUBLE, input_tokens BIGINT, output_tokens BIGINT,
--          mean_input_tokens DOUBLE, mean_output_tokens DOUBLE, users BIGINT, rated BIGINT,
--          mean_rating DOUBLE, rating_sd DOUBLE, high_rated BIGINT, high_rated_share DOUBLE,
--          feedback_rate DOUBLE, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ
--
-- Every output is a request; errors are status = 'error'. Latency percentiles (quantile_cont) and
-- the mean are over the requests that did not error (an error's time is the time to fail).
-- Tokens are sums; a missing split is derived from tokens_used when the other side is known.
-- Ratings are user_rating (as the spec's hourly_ai_performance): mean and sample sd over rated
-- outputs; high_rated = user_rating >= 4 and high_rated_share = high_rated / rated;
-- feedback_rate = rated / requests. NULL where a statistic has no rows.
-- The three percentiles come from one quantile_cont over a list of fractions (one sort per group
-- instead of three; the same values).
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
SELECT
    model_id, model_version, requests, errors, error_rate,
    latency_quantiles[1] AS latency_p50_ms,
    latency_quantiles[2] AS latency_p95_ms,
    latency_quantiles[3] AS latency_p99_ms,
    latency_mean_ms, input_tokens, output_tokens, mean_input_tokens, mean_output_tokens, users,
    rated, mean_rating, rating_sd, high_rated, high_rated_share, feedback_rate, first_seen,
    last_seen
FROM (
    SELECT
        model_id,
        model_version,
        COUNT(*) AS requests,
        COUNT(*) FILTER (WHERE status = 'error') AS errors,
        AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
        quantile_cont(response_time_ms, [0.50, 0.95, 0.99]) FILTER (WHERE status <> 'error')
            AS latency_quantiles,
        AVG(CAST(response_time_ms AS DOUBLE)) FILTER (WHERE status <> 'error') AS latency_mean_ms,
        CAST(SUM(COALESCE(input_tokens, tokens_used - output_tokens)) AS BIGINT) AS input_tokens,
        CAST(SUM(COALESCE(output_tokens, tokens_used - input_tokens)) AS BIGINT) AS output_tokens,
        AVG(CAST(COALESCE(input_tokens, tokens_used - output_tokens) AS DOUBLE))
            AS mean_input_tokens,
        AVG(CAST(COALESCE(output_tokens, tokens_used - input_tokens) AS DOUBLE))
            AS mean_output_tokens,
        COUNT(DISTINCT user_id) AS users,
        COUNT(user_rating) AS rated,
        AVG(CAST(user_rating AS DOUBLE)) AS mean_rating,
        stddev_samp(CAST(user_rating AS DOUBLE)) AS rating_sd,
        COUNT(*) FILTER (WHERE user_rating >= 4) AS high_rated,
        CAST(COUNT(*) FILTER (WHERE user_rating >= 4) AS DOUBLE) / NULLIF(COUNT(user_rating), 0)
            AS high_rated_share,
        CAST(COUNT(user_rating) AS DOUBLE) / COUNT(*) AS feedback_rate,
        MIN(created_at) AS first_seen,
        MAX(created_at) AS last_seen
    FROM prompt_outputs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
      AND ($prompt_version IS NULL OR prompt_version = $prompt_version)
    GROUP BY model_id, model_version
) AS per_model
ORDER BY model_id, model_version
