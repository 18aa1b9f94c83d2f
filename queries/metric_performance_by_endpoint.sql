-- purpose: API performance metrics of the metric catalog per endpoint (segment = 'METHOD endpoint') per period
-- grain: one row per UTC period (day or hour) in [start, end) and endpoint seen in the range; periods without calls included (counts 0, others NULL)
-- param: start TIMESTAMPTZ      inclusive start (UTC); the first period is the one holding it
-- param: end TIMESTAMPTZ        exclusive end (UTC)
-- param: grain VARCHAR = day    period length: 'day' or 'hour'
-- columns: period TIMESTAMPTZ, segment VARCHAR, api_requests BIGINT, api_error_rate DOUBLE,
--          api_mean_latency DOUBLE, api_p95_latency DOUBLE
--
-- Same definitions as metric_performance, split by method and endpoint.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH periods AS (
    SELECT p AS period
    FROM range(date_trunc($grain, $start), $end,
               CASE WHEN $grain = 'hour' THEN INTERVAL 1 HOUR WHEN $grain = 'day' THEN INTERVAL 1 DAY
                    ELSE error('grain must be ''day'' or ''hour'', not ' || $grain) END) AS t(p)
), pm AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, created_at) END AS period,
           COALESCE(method, '?') || ' ' || COALESCE(endpoint, '?') AS segment,
           COUNT(*) AS api_requests,
           AVG(CASE WHEN status_code >= 500 THEN 1.0 ELSE 0.0 END) AS api_error_rate,
           AVG(CAST(response_time_ms AS DOUBLE)) AS api_mean_latency,
           quantile_cont(response_time_ms, 0.95) AS api_p95_latency
    FROM performance_metrics
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
    GROUP BY 1, 2
), segments AS (
    SELECT DISTINCT segment FROM pm
)
SELECT periods.period,
       segments.segment,
       COALESCE(pm.api_requests, 0) AS api_requests,
       pm.api_error_rate,
       pm.api_mean_latency,
       CAST(pm.api_p95_latency AS DOUBLE) AS api_p95_latency
FROM periods
CROSS JOIN segments
LEFT JOIN pm ON pm.period = periods.period AND pm.segment = segments.segment
ORDER BY periods.period, segments.segment
