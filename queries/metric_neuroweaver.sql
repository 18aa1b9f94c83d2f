-- purpose: Neuroweaver metrics of the metric catalog (AI requests, latency, errors, ratings, tokens) per period
-- grain: one row per UTC period (day or hour) in [start, end), empty periods included (counts 0, others NULL)
-- param: start TIMESTAMPTZ      inclusive start (UTC); the first period is the one holding it
-- param: end TIMESTAMPTZ        exclusive end (UTC)
-- param: grain VARCHAR = day    period length: 'day' or 'hour'
-- columns: period TIMESTAMPTZ, ai_requests BIGINT, ai_mean_latency DOUBLE, ai_p95_latency DOUBLE,
--          ai_error_rate DOUBLE, ai_rated BIGINT, ai_mean_rating DOUBLE, ai_tokens BIGINT
--
-- Every prompt output is a request (errors included); ai_error_rate is the share with
-- status = 'error'; ai_mean_latency and ai_p95_latency are the mean and quantile_cont of
-- response_time_ms; ai_mean_rating averages
-- user_rating over the rated outputs (ai_rated of them); ai_tokens sums tokens_used.
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
), ai AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, created_at) END AS period,
           COUNT(*) AS ai_requests,
           AVG(CAST(response_time_ms AS DOUBLE)) AS ai_mean_latency,
           quantile_cont(response_time_ms, 0.95) AS ai_p95_latency,
           AVG(CASE WHEN status = 'error' THEN 1.0 ELSE 0.0 END) AS ai_error_rate,
           COUNT(user_rating) AS ai_rated,
           AVG(CAST(user_rating AS DOUBLE)) AS ai_mean_rating,
           CAST(SUM(tokens_used) AS BIGINT) AS ai_tokens
    FROM prompt_outputs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
    GROUP BY 1
)
SELECT periods.period,
       COALESCE(ai.ai_requests, 0) AS ai_requests,
       ai.ai_mean_latency,
       ai.ai_p95_latency,
       ai.ai_error_rate,
       COALESCE(ai.ai_rated, 0) AS ai_rated,
       ai.ai_mean_rating,
       COALESCE(ai.ai_tokens, 0) AS ai_tokens
FROM periods
LEFT JOIN ai ON ai.period = periods.period
ORDER BY periods.period
