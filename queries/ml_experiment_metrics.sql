-- purpose: per-variant sums of per-user outcomes of one experiment, the input of delta-method analysis (lift, CI, p-value, MDE)
-- grain: one row per (variant, metric), ordered by variant, metric
-- param: experiment_key VARCHAR   the experiment (its newest definition when a key repeats)
-- param: start TIMESTAMPTZ        inclusive start: users first exposed from here, outcomes from here (UTC)
-- param: end TIMESTAMPTZ          exclusive end of exposures and outcomes (UTC)
-- columns: variant VARCHAR, metric VARCHAR, users BIGINT, conflicted_users BIGINT, sum_y DOUBLE,
--          sum_n DOUBLE, sum_yy DOUBLE, sum_nn DOUBLE, sum_yn DOUBLE
--
-- Users are analysed in the variant of their first assignment (intention to treat) from their
-- first exposure on; conflicted_users counts those also assigned another variant. For each
-- user i and metric, y_i / n_i are the numerator / denominator of the user's outcomes after
-- exposure (the metric is sum y / sum n over the variant's users, users without outputs
-- included with 0 / 0):
--   rating             y = sum of user_rating,        n = rated outputs
--   high_rated_share   y = outputs rated >= 4,        n = rated outputs
--   feedback_rate      y = rated outputs,             n = outputs
--   error_rate         y = outputs with status error, n = outputs
--   latency_ms         y = sum of response_time_ms,   n = outputs that did not error
--   requests_per_user  y = outputs,                   n = 1
WITH exp AS (
    SELECT id FROM experiments
    WHERE experiment_key = $experiment_key
    ORDER BY created_at DESC
    LIMIT 1
), assigned AS (
    SELECT user_id,
           MIN(created_at) AS exposed_at,
           arg_min(variant, created_at) AS variant,
           COUNT(DISTINCT variant) AS variants
    FROM experiment_assignments
    WHERE experiment_id IN (SELECT id FROM exp)
    GROUP BY user_id
), cohort AS (
    SELECT * FROM assigned WHERE exposed_at >= $start AND exposed_at < $end
), per_user AS (
    SELECT
        a.user_id,
        a.variant,
        MAX(a.variants) AS variants,
        CAST(COUNT(p.id) AS DOUBLE) AS requests,
        CAST(COUNT(p.id) FILTER (WHERE p.status = 'error') AS DOUBLE) AS errors,
        CAST(COUNT(p.user_rating) AS DOUBLE) AS rated,
        COALESCE(SUM(CAST(p.user_rating AS DOUBLE)), 0.0) AS rating_sum,
        CAST(COUNT(p.id) FILTER (WHERE p.user_rating >= 4) AS DOUBLE) AS high_rated,
        CAST(COUNT(p.response_time_ms) FILTER (WHERE p.status <> 'error') AS DOUBLE) AS timed,
        COALESCE(SUM(CAST(p.response_time_ms AS DOUBLE)) FILTER (WHERE p.status <> 'error'), 0.0)
            AS latency_sum
    FROM cohort AS a
    LEFT JOIN prompt_outputs AS p
      ON p.user_id = a.user_id
     AND p.created_at >= a.exposed_at
     AND p.created_at >= $start AND p.created_at < $end
     AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY a.user_id, a.variant
), outcomes AS (
    SELECT variant, variants, 'rating' AS metric, rating_sum AS y, rated AS n FROM per_user
    UNION ALL SELECT variant, variants, 'high_rated_share', high_rated, rated FROM per_user
    UNION ALL SELECT variant, variants, 'feedback_rate', rated, requests FROM per_user
    UNION ALL SELECT variant, variants, 'error_rate', errors, requests FROM per_user
    UNION ALL SELECT variant, variants, 'latency_ms', latency_sum, timed FROM per_user
    UNION ALL SELECT variant, variants, 'requests_per_user', requests, 1.0 FROM per_user
)
SELECT
    variant,
    metric,
    COUNT(*) AS users,
    COUNT(*) FILTER (WHERE variants > 1) AS conflicted_users,
    SUM(y) AS sum_y,
    SUM(n) AS sum_n,
    SUM(y * y) AS sum_yy,
    SUM(n * n) AS sum_nn,
    SUM(y * n) AS sum_yn
FROM outcomes
GROUP BY variant, metric
ORDER BY variant, metric
