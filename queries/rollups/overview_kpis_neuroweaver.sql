-- purpose: Neuroweaver headline KPIs (AI calls, latency, errors, rating, tokens) for the Overview tab and unified analytics, from the model_days and model_latency_days rollups
-- grain: one row per metric, in a fixed order
-- param: start TIMESTAMPTZ   inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ     exclusive end (UTC midnight)
-- columns: system VARCHAR, metric VARCHAR, value DOUBLE, unit VARCHAR
--
-- Same result as ../overview_kpis_neuroweaver.sql (a test keeps them equal) for ranges of whole
-- UTC days: counts, errors, ratings and tokens add up over model_days; the p95 latency over every
-- output with a response time (errors included, as there) is exact from the model_latency_days
-- histogram, interpolated as quantile_cont does between the order statistics x[floor(h)] and
-- x[ceil(h)] (0-based, h = (n - 1) 0.95), each the smallest response time whose running count
-- passes its index (as in ml_model_performance.sql). Run only when rollups.usable() says both rollups
-- are fresh and the bounds are midnights.
WITH counts AS (
    SELECT COALESCE(SUM(requests), 0) AS requests,
           CAST(SUM(errors) AS DOUBLE) / NULLIF(SUM(requests), 0) AS error_rate,
           CAST(SUM(rating_sum) AS DOUBLE) / NULLIF(SUM(rated), 0) AS mean_rating,
           COALESCE(SUM(tokens_used_sum), 0) AS tokens
    FROM model_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
), latency AS (
    SELECT response_time_ms, SUM(outputs) AS outputs
    FROM model_latency_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY response_time_ms
), running AS (
    SELECT response_time_ms,
           SUM(outputs) OVER (ORDER BY response_time_ms
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_outputs,
           CAST(SUM(outputs) OVER () - 1 AS DOUBLE) * 0.95 AS h
    FROM latency
), p95 AS (
    SELECT any_value(h) AS h,
           MIN(response_time_ms) FILTER (WHERE running_outputs > floor(h)) AS below,
           MIN(response_time_ms) FILTER (WHERE running_outputs > ceil(h)) AS above
    FROM running
), ai AS (
    SELECT requests, error_rate, mean_rating, tokens,
           CASE WHEN floor(h) = ceil(h) THEN CAST(below AS DOUBLE)
                ELSE CAST(below AS DOUBLE) * (1 - (h - floor(h)))
                     + CAST(above AS DOUBLE) * (h - floor(h)) END
               AS p95_latency
    FROM counts, p95
)
SELECT 'neuroweaver' AS system, 'ai_requests' AS metric, CAST(requests AS DOUBLE) AS value, 'requests' AS unit FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_p95_latency', p95_latency, 'ms' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_error_rate', error_rate, 'share' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_mean_rating', mean_rating, 'rating 1-5' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_tokens', CAST(tokens AS DOUBLE), 'tokens' FROM ai
