-- purpose: RelayCore health signals over a window: workflow runs and failed runs (workflow_runs)
-- grain: one row
-- param: start TIMESTAMPTZ           inclusive start (UTC) of the window
-- param: end TIMESTAMPTZ             exclusive end (UTC) of the window (the health check's as_of)
-- columns: requests BIGINT, errors BIGINT, slow BIGINT, p95_ms DOUBLE
--
-- requests are runs started in the window, errors those with status = 'failed'. slow is NULL:
-- run durations are judged against each workflow's SLA target (workflow_sla.sql) instead of
-- one threshold. p95_ms is the runs' duration_ms quantile_cont (NULL without rows).
SELECT COUNT(*) AS requests,
       CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors,
       CAST(NULL AS BIGINT) AS slow,
       quantile_cont(duration_ms, 0.95) AS p95_ms
FROM workflow_runs
WHERE created_at >= $start AND created_at < $end
  AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
