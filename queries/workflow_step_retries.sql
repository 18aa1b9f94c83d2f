-- purpose: retries per workflow step and flaky steps (an attempt fails, a later attempt of the same execution succeeds)
-- grain: one row per (workflow_id, step_name) with at least one attempt in runs started in [start, end)
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: workflow_id VARCHAR, step_name VARCHAR, step_type VARCHAR, step_index SMALLINT,
--          executions BIGINT, attempts BIGINT, retries BIGINT, retried_executions BIGINT,
--          max_attempts BIGINT, first_try_failures BIGINT, flaky_executions BIGINT,
--          exhausted_executions BIGINT, failed_executions BIGINT, retry_rate DOUBLE,
--          flaky_rate DOUBLE, recovery_rate DOUBLE, retry_ms DOUBLE
--
-- An execution is one step of one run with all its attempts. retries = attempts - executions;
-- retried_executions had more than one attempt. first_try_failures failed on attempt 1.
-- flaky_executions had a failed attempt followed by a successful one; exhausted_executions were
-- retried and never succeeded; failed_executions never succeeded (cancelled ones excluded).
-- retry_rate = retried_executions / executions, flaky_rate = flaky_executions / executions,
-- recovery_rate = flaky_executions / first_try_failures (how often a retry saves a failed step;
-- NULL without first-try failures). retry_ms is the time spent in attempts that failed and were
-- retried: the price of flakiness.
WITH runs AS (
    SELECT id, workflow_id
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND ($workflow IS NULL OR workflow_id = $workflow)
), steps AS (
    SELECT r.workflow_id, s.run_id, s.step_index, s.step_name, s.step_type, s.attempt, s.status,
           s.duration_ms
    FROM workflow_steps AS s
    JOIN runs AS r ON r.id = s.run_id
    WHERE s.date >= CAST($start AS DATE)
      AND s.date <= CAST($end AS DATE) + $max_run_days
), executions AS (
    SELECT workflow_id, step_name, run_id, step_index,
           mode(step_type) AS step_type,
           COUNT(*) AS attempts,
           MAX(attempt) AS max_attempt,
           MIN(CASE WHEN status = 'failed' THEN attempt END) AS first_failed,
           MAX(CASE WHEN status = 'success' THEN attempt END) AS last_success,
           MAX(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS was_cancelled,
           MAX(CASE WHEN attempt = 1 AND status = 'failed' THEN 1 ELSE 0 END) AS failed_first_try
    FROM steps
    GROUP BY workflow_id, step_name, run_id, step_index
), wasted AS (
    -- failed attempts that were followed by another attempt of the same execution
    SELECT s.workflow_id, s.step_name, SUM(CAST(s.duration_ms AS DOUBLE)) AS retry_ms
    FROM steps AS s
    JOIN executions AS e
      ON e.run_id = s.run_id AND e.step_index = s.step_index AND e.step_name = s.step_name
    WHERE s.status = 'failed' AND s.attempt < e.max_attempt
    GROUP BY s.workflow_id, s.step_name
), per_step AS (
    SELECT workflow_id, step_name,
           mode(step_type) AS step_type,
           mode(step_index) AS step_index,
           COUNT(*) AS executions,
           SUM(attempts) AS attempts,
           SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS retried_executions,
           MAX(attempts) AS max_attempts,
           SUM(failed_first_try) AS first_try_failures,
           SUM(CASE WHEN first_failed < last_success THEN 1 ELSE 0 END) AS flaky_executions,
           SUM(CASE WHEN attempts > 1 AND last_success IS NULL AND was_cancelled = 0 THEN 1 ELSE 0 END)
               AS exhausted_executions,
           SUM(CASE WHEN last_success IS NULL AND was_cancelled = 0 THEN 1 ELSE 0 END)
               AS failed_executions
    FROM executions
    GROUP BY workflow_id, step_name
)
SELECT p.workflow_id,
       p.step_name,
       p.step_type,
       CAST(p.step_index AS SMALLINT) AS step_index,
       p.executions,
       CAST(p.attempts AS BIGINT) AS attempts,
       CAST(p.attempts - p.executions AS BIGINT) AS retries,
       CAST(p.retried_executions AS BIGINT) AS retried_executions,
       CAST(p.max_attempts AS BIGINT) AS max_attempts,
       CAST(p.first_try_failures AS BIGINT) AS first_try_failures,
       CAST(p.flaky_executions AS BIGINT) AS flaky_executions,
       CAST(p.exhausted_executions AS BIGINT) AS exhausted_executions,
       CAST(p.failed_executions AS BIGINT) AS failed_executions,
       CAST(p.retried_executions AS DOUBLE) / p.executions AS retry_rate,
       CAST(p.flaky_executions AS DOUBLE) / p.executions AS flaky_rate,
       CAST(p.flaky_executions AS DOUBLE) / NULLIF(p.first_try_failures, 0) AS recovery_rate,
       COALESCE(w.retry_ms, 0.0) AS retry_ms
FROM per_step AS p
LEFT JOIN wasted AS w ON w.workflow_id = p.workflow_id AND w.step_name = p.step_name
ORDER BY p.workflow_id, p.step_index, p.step_name
