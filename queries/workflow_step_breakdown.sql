-- purpose: where workflow run time goes: each step's share of run time, retries and duration, and the bottleneck step per workflow
-- grain: one row per (workflow_id, step_name) with at least one attempt in runs started in [start, end)
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: workflow_id VARCHAR, step_name VARCHAR, step_type VARCHAR, step_index SMALLINT,
--          runs BIGINT, run_ms DOUBLE, executions BIGINT, attempts BIGINT, retries BIGINT,
--          failed_attempts BIGINT, step_ms DOUBLE, share_of_run_time DOUBLE, ms_per_run DOUBLE,
--          p50_ms DOUBLE, p95_ms DOUBLE, rank BIGINT, is_bottleneck BOOLEAN
--
-- A run belongs to the range it started in, with all of its step attempts. `runs` and `run_ms`
-- are the workflow's runs in the range and the sum of their duration_ms (the denominator of
-- share_of_run_time); step_ms sums every attempt of the step, retries included. Shares of one
-- workflow sum to less than 1 when runs spend time outside their steps (queueing, hand-offs).
-- An execution is one step of one run (all its attempts); p50_ms/p95_ms are of execution time
-- (the sum of its attempts), i.e. what the step adds to a run. rank 1 (the largest step_ms) is
-- the bottleneck; ties go to the earlier step. step_type and step_index are the most frequent.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH runs AS (
    SELECT id, workflow_id, duration_ms
    FROM workflow_runs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($workflow IS NULL OR workflow_id = $workflow)
), per_workflow AS (
    SELECT workflow_id, COUNT(*) AS runs, SUM(CAST(duration_ms AS DOUBLE)) AS run_ms
    FROM runs
    GROUP BY workflow_id
), steps AS (
    SELECT r.workflow_id, s.run_id, s.step_index, s.step_name, s.step_type, s.attempt, s.status,
           s.duration_ms
    FROM workflow_steps AS s
    JOIN runs AS r ON r.id = s.run_id
    WHERE s.date >= CAST($start AS DATE)
      AND s.date <= CAST($end AS DATE) + $max_run_days
), executions AS (
    SELECT workflow_id, step_name, run_id, step_index,
           COUNT(*) AS attempts,
           SUM(CAST(duration_ms AS DOUBLE)) AS exec_ms
    FROM steps
    GROUP BY workflow_id, step_name, run_id, step_index
), per_step AS (
    SELECT workflow_id, step_name,
           COUNT(*) AS executions,
           SUM(attempts) AS attempts,
           SUM(exec_ms) AS step_ms,
           quantile_cont(exec_ms, 0.5) AS p50_ms,
           quantile_cont(exec_ms, 0.95) AS p95_ms
    FROM executions
    GROUP BY workflow_id, step_name
), per_step_attempts AS (
    SELECT workflow_id, step_name,
           mode(step_type) AS step_type,
           mode(step_index) AS step_index,
           SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed_attempts
    FROM steps
    GROUP BY workflow_id, step_name
), ranked AS (
    SELECT p.workflow_id, p.step_name, a.step_type, a.step_index, w.runs, w.run_ms,
           p.executions, p.attempts, p.step_ms, a.failed_attempts, p.p50_ms, p.p95_ms,
           row_number() OVER (PARTITION BY p.workflow_id
                              ORDER BY p.step_ms DESC, a.step_index, p.step_name) AS rank
    FROM per_step AS p
    JOIN per_step_attempts AS a ON a.workflow_id = p.workflow_id AND a.step_name = p.step_name
    JOIN per_workflow AS w ON w.workflow_id = p.workflow_id
)
SELECT workflow_id,
       step_name,
       step_type,
       CAST(step_index AS SMALLINT) AS step_index,
       runs,
       run_ms,
       executions,
       CAST(attempts AS BIGINT) AS attempts,
       CAST(attempts - executions AS BIGINT) AS retries,
       CAST(failed_attempts AS BIGINT) AS failed_attempts,
       step_ms,
       step_ms / NULLIF(run_ms, 0) AS share_of_run_time,
       step_ms / runs AS ms_per_run,
       p50_ms,
       p95_ms,
       rank,
       rank = 1 AS is_bottleneck
FROM ranked
ORDER BY workflow_id, step_index, step_name
