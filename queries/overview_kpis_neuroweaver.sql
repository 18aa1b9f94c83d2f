-- purpose: Neuroweaver headline KPIs (AI calls, latency, errors, rating, tokens) for the Overview tab and unified analytics
-- grain: one row per metric, in a fixed order
-- param: start TIMESTAMPTZ   inclusive start (UTC)
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: system VARCHAR, metric VARCHAR, value DOUBLE, unit VARCHAR
--
-- Same definitions as the neuroweaver rows of overview_kpis.sql (a test keeps them equal).
-- ai_error_rate counts status = 'error'; the p95 latency is continuous (quantile_cont).
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH ai AS (
    SELECT COUNT(*) AS requests,
           quantile_cont(response_time_ms, 0.95) AS p95_latency,
           AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate,
           AVG(CAST(user_rating AS DOUBLE)) AS mean_rating,
           COALESCE(SUM(CAST(tokens_used AS BIGINT)), 0) AS tokens
    FROM prompt_outputs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
)
SELECT 'neuroweaver' AS system, 'ai_requests' AS metric, CAST(requests AS DOUBLE) AS value, 'requests' AS unit FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_p95_latency', p95_latency, 'ms' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_error_rate', error_rate, 'share' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_mean_rating', mean_rating, 'rating 1-5' FROM ai
UNION ALL SELECT 'neuroweaver', 'ai_tokens', CAST(tokens AS DOUBLE), 'tokens' FROM ai
