-- purpose: Neuroweaver daily series (AI calls, p95 latency, error rate) for the Overview tab, from the model_days and model_latency_days rollups
-- grain: one row per UTC day in [start, end), days without rows included (counts 0, others NULL)
-- param: start TIMESTAMPTZ   inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ     exclusive end (UTC midnight)
-- columns: date DATE, ai_requests BIGINT, ai_p95_latency DOUBLE, ai_error_rate DOUBLE
--
-- Same result as ../overview_daily_neuroweaver.sql (a test keeps them equal) for ranges of whole
-- UTC days: counts and errors add up over model_days; each day's p95 latency (every output with
-- a response time, errors included, as there) is exact from the model_latency_days histogram,
-- as in overview_kpis_neuroweaver.sql. Run only when rollups.usable() says both rollups are
-- fresh and the bounds are midnights.
WITH days AS (
    SELECT CAST(d AS DATE) AS date
    FROM range(CAST(CAST($start AS DATE) AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) AS t(d)
), counts AS (
    SELECT date, SUM(requests) AS ai_requests,
           CAST(SUM(errors) AS DOUBLE) / SUM(requests) AS ai_error_rate
    FROM model_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY date
), latency AS (
    SELECT date, response_time_ms, SUM(outputs) AS outputs
    FROM model_latency_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY date, response_time_ms
), running AS (
    SELECT date, response_time_ms,
           SUM(outputs) OVER (PARTITION BY date ORDER BY response_time_ms
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_outputs,
           CAST(SUM(outputs) OVER (PARTITION BY date) - 1 AS DOUBLE) * 0.95 AS h
    FROM latency
), p95 AS (
    SELECT date, any_value(h) AS h,
           MIN(response_time_ms) FILTER (WHERE running_outputs > floor(h)) AS below,
           MIN(response_time_ms) FILTER (WHERE running_outputs > ceil(h)) AS above
    FROM running
    GROUP BY date
)
SELECT days.date,
       CAST(COALESCE(counts.ai_requests, 0) AS BIGINT) AS ai_requests,
       CASE WHEN floor(h) = ceil(h) THEN CAST(below AS DOUBLE)
            ELSE CAST(below AS DOUBLE) * (1 - (h - floor(h)))
                 + CAST(above AS DOUBLE) * (h - floor(h)) END
           AS ai_p95_latency,
       counts.ai_error_rate
FROM days
LEFT JOIN counts ON counts.date = days.date
LEFT JOIN p95 ON p95.date = days.date
ORDER BY days.date
