-- purpose: latency of AI steps against the other steps of workflows
-- grain: one row per (workflow_id, kind) with kind 'ai' or 'other', plus rows over all workflows (workflow_id = 'all')
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: workflow_id VARCHAR, kind VARCHAR, attempts BIGINT, ok_attempts BIGINT,
--          p50_ms DOUBLE, p95_ms DOUBLE, p99_ms DOUBLE, mean_ms DOUBLE, total_ms DOUBLE,
--          share_of_step_time DOUBLE
--
-- kind 'ai' is a step attempt with a prompt_output_id or of step_type 'ai'; everything else is
-- 'other'. Percentiles and the mean are over successful attempts (a failed attempt stops early);
-- total_ms sums all attempts and share_of_step_time = total_ms / all steps' total_ms of the same
-- workflow (or of all workflows).
WITH runs AS (
    SELECT id, workflow_id
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND ($workflow IS NULL OR workflow_id = $workflow)
), steps AS (
    SELECT r.workflow_id,
           CASE WHEN s.prompt_output_id IS NOT NULL OR s.step_type = 'ai' THEN 'ai' ELSE 'other' END AS kind,
           s.status, s.duration_ms
    FROM workflow_steps AS s
    JOIN runs AS r ON r.id = s.run_id
    WHERE s.date >= CAST($start AS DATE)
      AND s.date <= CAST($end AS DATE) + $max_run_days
), grouped AS (
    SELECT CASE WHEN GROUPING(workflow_id) = 1 THEN 'all' ELSE workflow_id END AS workflow_id,
           GROUPING(workflow_id) AS is_total,
           kind,
           COUNT(*) AS attempts,
           SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS ok_attempts,
           quantile_cont(CASE WHEN status = 'success' THEN duration_ms END, 0.5) AS p50_ms,
           quantile_cont(CASE WHEN status = 'success' THEN duration_ms END, 0.95) AS p95_ms,
           quantile_cont(CASE WHEN status = 'success' THEN duration_ms END, 0.99) AS p99_ms,
           AVG(CASE WHEN status = 'success' THEN CAST(duration_ms AS DOUBLE) END) AS mean_ms,
           SUM(CAST(duration_ms AS DOUBLE)) AS total_ms
    FROM steps
    GROUP BY GROUPING SETS ((workflow_id, kind), (kind))
)
SELECT workflow_id,
       kind,
       attempts,
       CAST(ok_attempts AS BIGINT) AS ok_attempts,
       p50_ms,
       p95_ms,
       p99_ms,
       mean_ms,
       total_ms,
       total_ms / NULLIF(SUM(total_ms) OVER (PARTITION BY workflow_id, is_total), 0) AS share_of_step_time
FROM grouped
ORDER BY is_total, workflow_id, kind
