-- purpose: prompt analytics (as ml_prompts) for the top most used prompts only, with the rating totals of all prompts in the range (for the quality score's prior); needs the prompt_output_costs view of attach_costs
-- grain: one row per (prompt_hash, prompt_version) among the $top with most outputs in the range (all when $top is NULL), ordered by requests descending, then hash, version: the first $top rows of ml_prompts
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: top INTEGER = NULL              how many prompts (the most used); NULL means all
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: prompt_hash VARCHAR, prompt_version VARCHAR, prompt_preview VARCHAR, requests BIGINT,
--          users BIGINT, models BIGINT, errors BIGINT, error_rate DOUBLE, latency_p50_ms DOUBLE,
--          latency_p95_ms DOUBLE, mean_input_tokens DOUBLE, mean_output_tokens DOUBLE,
--          rated BIGINT, rating_sum DOUBLE, mean_rating DOUBLE, rating_sd DOUBLE,
--          high_rated_share DOUBLE, cost_usd DOUBLE, unpriced_requests BIGINT,
--          first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, all_rating_sum DOUBLE, all_rated BIGINT
--
-- Two passes, so that memory does not grow with the number of distinct prompts: the first counts
-- outputs per prompt (and the ratings of all of them: all_rating_sum, exact as a DECIMAL sum, and
-- all_rated) on the prompt outputs alone; the second computes the percentiles, distinct counts and
-- costs of the chosen prompts only. Definitions as ml_prompts (prompt_output_costs has one row
-- per prompt output, so counting prompt_outputs counts the view's rows).
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at. Also for speed, the second pass groups by the prompt's
-- rank (an integer) rather than its hash and version, takes the two latencies from one
-- quantile_cont over a list of fractions (one sort, the same values) and the preview as
-- left(MIN(prompt), 80), equal to MIN(left(prompt, 80)) because a prefix keeps the order.
WITH counts AS (
    SELECT
        o.prompt_hash,
        o.prompt_version,
        COUNT(*) AS requests,
        SUM(o.user_rating) AS rating_sum,
        COUNT(o.user_rating) AS rated
    FROM prompt_outputs AS o
    WHERE o.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR o.created_at >= $start)
      AND (o.date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND o.created_at < $end))
      AND ($model IS NULL OR o.model_id = $model)
      AND ($model_version IS NULL OR o.model_version = $model_version)
      AND ($prompt_version IS NULL OR o.prompt_version = $prompt_version)
    GROUP BY o.prompt_hash, o.prompt_version
), chosen AS (
    SELECT
        prompt_hash,
        prompt_version,
        -- the group key of the second pass: cheaper to hash than the two strings
        row_number() OVER (ORDER BY requests DESC, prompt_hash, prompt_version) AS rank,
        all_rating_sum,
        all_rated
    FROM (
        SELECT
            prompt_hash,
            prompt_version,
            requests,
            CAST(SUM(rating_sum) OVER () AS DOUBLE) AS all_rating_sum,
            CAST(SUM(rated) OVER () AS BIGINT) AS all_rated
        FROM counts
        ORDER BY requests DESC, prompt_hash, prompt_version
        LIMIT $top
    ) AS top_prompts
), per_prompt AS (
    SELECT
        c.rank,
        ANY_VALUE(c.prompt_hash) AS prompt_hash,
        ANY_VALUE(c.prompt_version) AS prompt_version,
        left(MIN(p.prompt), 80) AS prompt_preview,
        COUNT(*) AS requests,
        COUNT(DISTINCT p.user_id) AS users,
        COUNT(DISTINCT p.model_id) AS models,
        COUNT(*) FILTER (WHERE p.status = 'error') AS errors,
        AVG(CASE WHEN p.status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
        quantile_cont(p.response_time_ms, [0.50, 0.95]) FILTER (WHERE p.status <> 'error')
            AS latency_quantiles,
        AVG(CAST(p.input_tokens AS DOUBLE)) AS mean_input_tokens,
        AVG(CAST(p.output_tokens AS DOUBLE)) AS mean_output_tokens,
        COUNT(p.user_rating) AS rated,
        SUM(CAST(p.user_rating AS DOUBLE)) AS rating_sum,
        AVG(CAST(p.user_rating AS DOUBLE)) AS mean_rating,
        stddev_samp(CAST(p.user_rating AS DOUBLE)) AS rating_sd,
        CAST(COUNT(*) FILTER (WHERE p.user_rating >= 4) AS DOUBLE)
            / NULLIF(COUNT(p.user_rating), 0) AS high_rated_share,
        SUM(p.cost_usd) AS cost_usd,
        COUNT(*) FILTER (WHERE NOT p.priced) AS unpriced_requests,
        MIN(p.created_at) AS first_seen,
        MAX(p.created_at) AS last_seen,
        ANY_VALUE(c.all_rating_sum) AS all_rating_sum,
        ANY_VALUE(c.all_rated) AS all_rated
    FROM prompt_output_costs AS p
    JOIN chosen AS c
      ON p.prompt_hash IS NOT DISTINCT FROM c.prompt_hash
     AND p.prompt_version IS NOT DISTINCT FROM c.prompt_version
    WHERE p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR p.created_at >= $start)
      AND (p.date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND p.created_at < $end))
      AND ($model IS NULL OR p.model_id = $model)
      AND ($model_version IS NULL OR p.model_version = $model_version)
      AND ($prompt_version IS NULL OR p.prompt_version = $prompt_version)
    GROUP BY c.rank
)
SELECT
    prompt_hash, prompt_version, prompt_preview, requests, users, models, errors, error_rate,
    latency_quantiles[1] AS latency_p50_ms,
    latency_quantiles[2] AS latency_p95_ms,
    mean_input_tokens, mean_output_tokens, rated, rating_sum, mean_rating, rating_sd,
    high_rated_share, cost_usd, unpriced_requests, first_seen, last_seen, all_rating_sum,
    all_rated
FROM per_prompt
ORDER BY requests DESC, prompt_hash, prompt_version
