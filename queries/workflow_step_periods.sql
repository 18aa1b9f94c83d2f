-- purpose: each workflow step's time and duration statistics per period, for bottleneck history and change detection
-- grain: one row per (period_start, workflow_id, step_name) with at least one attempt, for runs started in [start, end)
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: period VARCHAR = day         day, week (ISO, Monday) or month of the run's start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: period_start DATE, workflow_id VARCHAR, step_name VARCHAR, step_type VARCHAR,
--          step_index SMALLINT, runs BIGINT, run_ms DOUBLE, step_ms DOUBLE,
--          share_of_run_time DOUBLE, rank BIGINT, is_bottleneck BOOLEAN, ok_attempts BIGINT,
--          log_ms_sum DOUBLE, log_ms_sq_sum DOUBLE
--
-- Same definitions as workflow_step_breakdown.sql, per period. ok_attempts, log_ms_sum and
-- log_ms_sq_sum are the count, sum and sum of squares of ln(duration_ms) over the step's
-- successful attempts (durations below 1 ms count as 1 ms): the sufficient statistics of the
-- log-normal duration model, from which step duration shifts are tested without raw rows.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH runs AS (
    SELECT id, workflow_id, duration_ms,
           CAST(date_trunc($period, date) AS DATE) AS period_start
    FROM workflow_runs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($workflow IS NULL OR workflow_id = $workflow)
), per_workflow AS (
    SELECT period_start, workflow_id, COUNT(*) AS runs, SUM(CAST(duration_ms AS DOUBLE)) AS run_ms
    FROM runs
    GROUP BY period_start, workflow_id
), steps AS (
    SELECT r.period_start, r.workflow_id, s.step_name, s.step_type, s.step_index, s.status,
           s.duration_ms
    FROM workflow_steps AS s
    JOIN runs AS r ON r.id = s.run_id
    WHERE s.date >= CAST($start AS DATE)
      AND s.date <= CAST($end AS DATE) + $max_run_days
), per_step AS (
    SELECT period_start, workflow_id, step_name,
           mode(step_type) AS step_type,
           mode(step_index) AS step_index,
           SUM(CAST(duration_ms AS DOUBLE)) AS step_ms,
           SUM(CASE WHEN status = 'success' AND duration_ms IS NOT NULL THEN 1 ELSE 0 END) AS ok_attempts,
           SUM(CASE WHEN status = 'success' THEN ln(greatest(CAST(duration_ms AS DOUBLE), 1.0)) END) AS log_ms_sum,
           SUM(CASE WHEN status = 'success'
                    THEN ln(greatest(CAST(duration_ms AS DOUBLE), 1.0)) * ln(greatest(CAST(duration_ms AS DOUBLE), 1.0))
               END) AS log_ms_sq_sum
    FROM steps
    GROUP BY period_start, workflow_id, step_name
)
SELECT p.period_start,
       p.workflow_id,
       p.step_name,
       p.step_type,
       CAST(p.step_index AS SMALLINT) AS step_index,
       w.runs,
       w.run_ms,
       p.step_ms,
       p.step_ms / NULLIF(w.run_ms, 0) AS share_of_run_time,
       row_number() OVER (PARTITION BY p.period_start, p.workflow_id
                          ORDER BY p.step_ms DESC, p.step_index, p.step_name) AS rank,
       row_number() OVER (PARTITION BY p.period_start, p.workflow_id
                          ORDER BY p.step_ms DESC, p.step_index, p.step_name) = 1 AS is_bottleneck,
       CAST(p.ok_attempts AS BIGINT) AS ok_attempts,
       p.log_ms_sum,
       p.log_ms_sq_sum
FROM per_step AS p
JOIN per_workflow AS w ON w.period_start = p.period_start AND w.workflow_id = p.workflow_id
ORDER BY p.period_start, p.workflow_id, p.step_index, p.step_name
