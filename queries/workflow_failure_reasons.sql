-- purpose: why workflow steps and runs fail, grouped by reason, separating the root failure of a run from its downstream cascade and from failures a retry recovered
-- grain: one row per (workflow_id, role, step_name, reason) for runs started in [start, end)
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: workflow_id VARCHAR, role VARCHAR, step_name VARCHAR, reason VARCHAR,
--          executions BIGINT, attempts BIGINT, runs BIGINT, failed_runs BIGINT,
--          share_of_failed_runs DOUBLE, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ,
--          example_error VARCHAR
--
-- Each failed attempt (status 'failed') of an execution (one step of one run) gets a role:
--   recovered  a later attempt of the same execution succeeded (a flaky step, see retries)
--   root       the execution never succeeded and is the first such execution of a failed run:
--              the failure that took the run down
--   cascade    the execution never succeeded and comes after the root in the same failed run
--   tolerated  the execution never succeeded but its run did not fail
-- Cancelled attempts have role 'cancelled'; a failed run without any failed step has one row of
-- role 'run' whose reason is the run's error (step_name '(run)'). "Before" is step_index order,
-- then attempt start. reason is the error message with ids and long numbers masked
-- (UUID -> <id>, decimals and numbers of 4+ digits -> <n>), so one cause groups together;
-- example_error is one unmasked message. executions and runs count distinct executions and
-- runs; share_of_failed_runs = runs / failed_runs of the workflow for roles root and run
-- (they sum to 1 over a workflow's failed runs), NULL for the other roles.
WITH runs AS (
    SELECT id, workflow_id, status, error, created_at
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND ($workflow IS NULL OR workflow_id = $workflow)
), steps AS (
    SELECT r.workflow_id, r.status AS run_status, s.run_id, s.step_index, s.step_name,
           s.attempt, s.status, s.error, COALESCE(s.started_at, s.created_at) AS seen_at
    FROM workflow_steps AS s
    JOIN runs AS r ON r.id = s.run_id
    WHERE s.date >= CAST($start AS DATE)
      AND s.date <= CAST($end AS DATE) + $max_run_days
), executions AS (
    SELECT run_id, step_index, step_name,
           MAX(CASE WHEN status = 'success' THEN attempt END) AS success_attempt,
           MIN(seen_at) AS first_at
    FROM steps
    GROUP BY run_id, step_index, step_name
), unrecovered AS (
    -- executions whose last failure was not followed by a success
    SELECT s.run_id, s.step_index, s.step_name, MIN(e.first_at) AS first_at
    FROM steps AS s
    JOIN executions AS e
      ON e.run_id = s.run_id AND e.step_index = s.step_index AND e.step_name = s.step_name
    WHERE s.status = 'failed' AND (e.success_attempt IS NULL OR e.success_attempt < s.attempt)
    GROUP BY s.run_id, s.step_index, s.step_name
), roots AS (
    SELECT run_id, step_index, step_name
    FROM (
        SELECT run_id, step_index, step_name,
               row_number() OVER (PARTITION BY run_id ORDER BY step_index, first_at, step_name) AS k
        FROM unrecovered
    ) AS ordered
    WHERE k = 1
), attempts AS (
    SELECT s.workflow_id, s.run_id, s.step_index, s.step_name, s.error, s.seen_at,
           CASE
               WHEN s.status = 'cancelled' THEN 'cancelled'
               WHEN e.success_attempt > s.attempt THEN 'recovered'
               WHEN s.run_status <> 'failed' THEN 'tolerated'
               WHEN rt.run_id IS NOT NULL THEN 'root'
               ELSE 'cascade'
           END AS role
    FROM steps AS s
    JOIN executions AS e
      ON e.run_id = s.run_id AND e.step_index = s.step_index AND e.step_name = s.step_name
    LEFT JOIN roots AS rt
      ON rt.run_id = s.run_id AND rt.step_index = s.step_index AND rt.step_name = s.step_name
    WHERE s.status IN ('failed', 'cancelled')
    UNION ALL
    SELECT r.workflow_id, r.id, CAST(NULL AS SMALLINT), '(run)', r.error, r.created_at, 'run'
    FROM runs AS r
    WHERE r.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM unrecovered AS u WHERE u.run_id = r.id)
), masked AS (
    SELECT workflow_id, run_id, step_index, step_name, role, error, seen_at,
           regexp_replace(
               regexp_replace(
                   regexp_replace(COALESCE(error, '(no error message)'),
                                  '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}',
                                  '<id>', 'g'),
                   '[0-9]+\.[0-9]+', '<n>', 'g'),
               '[0-9]{4,}', '<n>', 'g') AS reason
    FROM attempts
), per_execution AS (
    SELECT workflow_id, role, step_name, reason, run_id, step_index,
           COUNT(*) AS attempts, MIN(seen_at) AS first_at, MAX(seen_at) AS last_at, MIN(error) AS example
    FROM masked
    GROUP BY workflow_id, role, step_name, reason, run_id, step_index
), failed_runs AS (
    SELECT workflow_id, COUNT(*) AS failed_runs
    FROM runs
    WHERE status = 'failed'
    GROUP BY workflow_id
), grouped AS (
    SELECT workflow_id, role, step_name, reason,
           COUNT(*) AS executions,
           SUM(attempts) AS attempts,
           COUNT(DISTINCT run_id) AS runs,
           MIN(first_at) AS first_seen,
           MAX(last_at) AS last_seen,
           MIN(example) AS example_error
    FROM per_execution
    GROUP BY workflow_id, role, step_name, reason
)
SELECT g.workflow_id,
       g.role,
       g.step_name,
       g.reason,
       g.executions,
       CAST(g.attempts AS BIGINT) AS attempts,
       g.runs,
       COALESCE(f.failed_runs, 0) AS failed_runs,
       CASE WHEN g.role IN ('root', 'run') THEN CAST(g.runs AS DOUBLE) / f.failed_runs END
           AS share_of_failed_runs,
       g.first_seen,
       g.last_seen,
       g.example_error
FROM grouped AS g
LEFT JOIN failed_runs AS f ON f.workflow_id = g.workflow_id
ORDER BY g.workflow_id,
         CASE g.role WHEN 'root' THEN 0 WHEN 'run' THEN 1 WHEN 'cascade' THEN 2
                     WHEN 'tolerated' THEN 3 WHEN 'recovered' THEN 4 ELSE 5 END,
         g.executions DESC, g.step_name, g.reason
