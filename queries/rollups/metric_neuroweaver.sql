-- purpose: Neuroweaver metrics of the metric catalog per UTC day, from the model_days and model_latency_days rollups
-- grain: one row per UTC day in [start, end), empty days included (counts 0, others NULL)
-- param: start TIMESTAMPTZ      inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ        exclusive end (UTC midnight)
-- param: grain VARCHAR = day    must be 'day' (an hour grain reads the rows: ../metric_neuroweaver.sql)
-- columns: period TIMESTAMPTZ, ai_requests BIGINT, ai_mean_latency DOUBLE, ai_p95_latency DOUBLE,
--          ai_error_rate DOUBLE, ai_rated BIGINT, ai_mean_rating DOUBLE, ai_tokens BIGINT
--
-- Same result as ../metric_neuroweaver.sql with grain 'day' (a test keeps them equal) for ranges
-- of whole UTC days: counts, errors, ratings and tokens add up over model_days; each day's mean
-- and p95 latency (every output with a response time, errors included, as there) come exactly
-- from the model_latency_days histogram, the p95 as in overview_kpis_neuroweaver.sql. Run only
-- when rollups.usable() says both rollups are fresh and the bounds are midnights.
WITH periods AS (
    SELECT p AS period
    FROM range(CAST($start AS TIMESTAMPTZ), $end,
               CASE WHEN $grain = 'day' THEN INTERVAL 1 DAY
                    ELSE error('the rollup form of metric_neuroweaver is daily, not ' || $grain) END)
         AS t(p)
), counts AS (
    SELECT CAST(date AS TIMESTAMPTZ) AS period,
           SUM(requests) AS ai_requests,
           CAST(SUM(errors) AS DOUBLE) / SUM(requests) AS ai_error_rate,
           SUM(rated) AS ai_rated,
           CAST(SUM(rating_sum) AS DOUBLE) / NULLIF(SUM(rated), 0) AS ai_mean_rating,
           SUM(tokens_used_sum) AS ai_tokens
    FROM model_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY date
), latency AS (
    SELECT date, response_time_ms, SUM(outputs) AS outputs
    FROM model_latency_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
    GROUP BY date, response_time_ms
), running AS (
    SELECT date, response_time_ms, outputs,
           SUM(outputs) OVER (PARTITION BY date ORDER BY response_time_ms
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_outputs,
           CAST(SUM(outputs) OVER (PARTITION BY date) - 1 AS DOUBLE) * 0.95 AS h
    FROM latency
), per_day_latency AS (
    SELECT CAST(date AS TIMESTAMPTZ) AS period,
           CAST(SUM(response_time_ms * outputs) AS DOUBLE) / SUM(outputs) AS ai_mean_latency,
           any_value(h) AS h,
           MIN(response_time_ms) FILTER (WHERE running_outputs > floor(h)) AS below,
           MIN(response_time_ms) FILTER (WHERE running_outputs > ceil(h)) AS above
    FROM running
    GROUP BY date
)
SELECT periods.period,
       CAST(COALESCE(counts.ai_requests, 0) AS BIGINT) AS ai_requests,
       l.ai_mean_latency,
       CASE WHEN floor(l.h) = ceil(l.h) THEN CAST(l.below AS DOUBLE)
            ELSE CAST(l.below AS DOUBLE) * (1 - (l.h - floor(l.h)))
                 + CAST(l.above AS DOUBLE) * (l.h - floor(l.h)) END
           AS ai_p95_latency,
       counts.ai_error_rate,
       CAST(COALESCE(counts.ai_rated, 0) AS BIGINT) AS ai_rated,
       counts.ai_mean_rating,
       CAST(COALESCE(counts.ai_tokens, 0) AS BIGINT) AS ai_tokens
FROM periods
LEFT JOIN counts ON counts.period = periods.period
LEFT JOIN per_day_latency AS l ON l.period = periods.period
ORDER BY periods.period
