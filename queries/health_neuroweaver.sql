-- purpose: Neuroweaver health signals over a window: AI calls, failed calls and slow calls (prompt_outputs)
-- grain: one row
-- param: start TIMESTAMPTZ           inclusive start (UTC) of the window
-- param: end TIMESTAMPTZ             exclusive end (UTC) of the window (the health check's as_of)
-- param: slow_ms DOUBLE = 8000       a call slower than this counts as slow
-- columns: requests BIGINT, errors BIGINT, slow BIGINT, p95_ms DOUBLE
--
-- errors are calls with status = 'error'; slow are calls with response_time_ms > slow_ms;
-- p95_ms is quantile_cont (NULL without rows).
SELECT COUNT(*) AS requests,
       CAST(COALESCE(SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors,
       CAST(COALESCE(SUM(CASE WHEN response_time_ms > $slow_ms THEN 1 ELSE 0 END), 0) AS BIGINT) AS slow,
       quantile_cont(response_time_ms, 0.95) AS p95_ms
FROM prompt_outputs
WHERE created_at >= $start AND created_at < $end
  AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
