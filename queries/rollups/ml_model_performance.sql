-- purpose: AI model performance per model and version (spec getModelPerformance): volume, errors, latency percentiles, tokens, ratings, from the model_days, model_user_days and model_latency_days rollups
-- grain: one row per (model_id, model_version) with at least one prompt output in the range, ordered by model, version
-- param: start TIMESTAMPTZ               inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ                 exclusive end (UTC midnight)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   must be NULL: the rollups do not keep prompt versions
-- columns: model_id VARCHAR, model_version VARCHAR, requests BIGINT, errors BIGINT,
--          error_rate DOUBLE, latency_p50_ms DOUBLE, latency_p95_ms DOUBLE, latency_p99_ms DOUBLE,
--          latency_mean_ms DOUBLE, input_tokens BIGINT, output_tokens BIGINT,
--          mean_input_tokens DOUBLE, mean_output_tokens DOUBLE, users BIGINT, rated BIGINT,
--          mean_rating DOUBLE, rating_sd DOUBLE, high_rated BIGINT, high_rated_share DOUBLE,
--          feedback_rate DOUBLE, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ
--
-- Same result as ../ml_model_performance.sql (a test keeps them equal: the percentiles exactly,
-- other floats to a relative 1e-12) for ranges of whole UTC days and no prompt version. Run only
-- when rollups.usable() says the three rollups are fresh and the bounds are midnights.
-- * Counts, sums, first and last seen add up over model_days (per model version and day).
-- * The exact distinct users are a count over model_user_days (one row per model version, user
--   and day: ~70% as many rows as outputs, and only the columns the count needs).
-- * The mean and sample sd of the ratings come from exact DECIMAL sums (ratings have two
--   decimals): sd^2 = (n * sum(r^2) - sum(r)^2) / (n (n - 1)), the numerator exact before its
--   cast. The row query's AVG and stddev_samp over doubles round along the way, so with nearly
--   constant ratings the two can differ in the 12th digit (this one is the closer).
-- * The percentiles are exact: model_latency_days counts the outputs per response time, errors
--   apart (NOT errored is status <> 'error': a NULL status is left out alike), and each
--   percentile interpolates as quantile_cont does, lo (1 - d) + hi d with d = h - floor(h),
--   between the order statistics lo = x[floor(h)] and hi = x[ceil(h)] (0-based,
--   h = (n - 1) q), each the smallest response time whose running count passes its index.
WITH per_model AS (
    SELECT
        model_id,
        model_version,
        SUM(requests) AS requests,
        SUM(errors) AS errors,
        CAST(SUM(input_tokens_sum) AS BIGINT) AS input_tokens,
        CAST(SUM(output_tokens_sum) AS BIGINT) AS output_tokens,
        CAST(SUM(input_tokens_sum) AS DOUBLE) / NULLIF(SUM(input_tokens_count), 0)
            AS mean_input_tokens,
        CAST(SUM(output_tokens_sum) AS DOUBLE) / NULLIF(SUM(output_tokens_count), 0)
            AS mean_output_tokens,
        SUM(rated) AS rated,
        SUM(rating_sum) AS rating_sum,
        SUM(rating_square_sum) AS rating_square_sum,
        SUM(high_rated) AS high_rated,
        MIN(first_seen) AS first_seen,
        MAX(last_seen) AS last_seen
    FROM model_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
      AND (CASE WHEN $prompt_version IS NULL THEN true
                ELSE error('the ml_model_performance rollup form has no prompt versions') END)
    GROUP BY model_id, model_version
), users AS (
    SELECT model_id, model_version, COUNT(DISTINCT user_id) AS users
    FROM model_user_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
    GROUP BY model_id, model_version
), latency AS (
    SELECT model_id, model_version, response_time_ms, SUM(outputs) AS outputs
    FROM model_latency_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
      AND NOT errored
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
    GROUP BY model_id, model_version, response_time_ms
), totals AS (
    SELECT model_id, model_version, SUM(outputs) AS total_outputs,
           SUM(response_time_ms * outputs) AS latency_sum
    FROM latency
    GROUP BY model_id, model_version
), running AS (
    SELECT
        model_id,
        model_version,
        response_time_ms,
        SUM(outputs) OVER (PARTITION BY model_id, model_version ORDER BY response_time_ms
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_outputs
    FROM latency
), positions AS (
    -- h = (n - 1) q for each fraction, as quantile_cont computes it (in DOUBLE)
    SELECT t.*, fraction.i, CAST(t.total_outputs - 1 AS DOUBLE) * fraction.q AS h
    FROM totals AS t,
         (SELECT UNNEST([1, 2, 3]) AS i, UNNEST([0.50, 0.95, 0.99]::DOUBLE[]) AS q) AS fraction
), order_statistics AS (
    SELECT
        p.model_id, p.model_version, p.latency_sum, p.total_outputs, p.i, p.h,
        MIN(r.response_time_ms) FILTER (WHERE r.running_outputs > floor(p.h)) AS below,
        MIN(r.response_time_ms) FILTER (WHERE r.running_outputs > ceil(p.h)) AS above
    FROM positions AS p
    JOIN running AS r
      ON r.model_id IS NOT DISTINCT FROM p.model_id
     AND r.model_version IS NOT DISTINCT FROM p.model_version
    GROUP BY p.model_id, p.model_version, p.latency_sum, p.total_outputs, p.i, p.h
), latency_per_model AS (
    SELECT
        model_id,
        model_version,
        list(CASE WHEN floor(h) = ceil(h) THEN CAST(below AS DOUBLE)
                  ELSE CAST(below AS DOUBLE) * (1 - (h - floor(h)))
                       + CAST(above AS DOUBLE) * (h - floor(h)) END
             ORDER BY i) AS latency_quantiles,
        CAST(any_value(latency_sum) AS DOUBLE) / any_value(total_outputs) AS latency_mean_ms
    FROM order_statistics
    GROUP BY model_id, model_version
)
SELECT
    m.model_id,
    m.model_version,
    CAST(m.requests AS BIGINT) AS requests,
    CAST(m.errors AS BIGINT) AS errors,
    CAST(m.errors AS DOUBLE) / m.requests AS error_rate,
    l.latency_quantiles[1] AS latency_p50_ms,
    l.latency_quantiles[2] AS latency_p95_ms,
    l.latency_quantiles[3] AS latency_p99_ms,
    l.latency_mean_ms,
    m.input_tokens,
    m.output_tokens,
    m.mean_input_tokens,
    m.mean_output_tokens,
    u.users,
    CAST(m.rated AS BIGINT) AS rated,
    CAST(m.rating_sum AS DOUBLE) / NULLIF(m.rated, 0) AS mean_rating,
    CASE WHEN m.rated >= 2 THEN sqrt(
        CAST(m.rated * m.rating_square_sum - m.rating_sum * m.rating_sum AS DOUBLE)
        / (CAST(m.rated AS DOUBLE) * (m.rated - 1))) END AS rating_sd,
    CAST(m.high_rated AS BIGINT) AS high_rated,
    CAST(m.high_rated AS DOUBLE) / NULLIF(m.rated, 0) AS high_rated_share,
    CAST(m.rated AS DOUBLE) / m.requests AS feedback_rate,
    m.first_seen,
    m.last_seen
FROM per_model AS m
JOIN users AS u
  ON u.model_id IS NOT DISTINCT FROM m.model_id
 AND u.model_version IS NOT DISTINCT FROM m.model_version
LEFT JOIN latency_per_model AS l
  ON l.model_id IS NOT DISTINCT FROM m.model_id
 AND l.model_version IS NOT DISTINCT FROM m.model_version
ORDER BY m.model_id, m.model_version
