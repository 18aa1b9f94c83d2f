-- purpose: workflow runs and their outcomes and durations, per workflow and trigger with totals
-- grain: one row per (workflow_id, trigger), plus one per workflow (trigger = 'all') and one
--        overall (workflow_id = 'all', trigger = 'all'); a run belongs to the range it started in
-- param: start TIMESTAMPTZ          inclusive start (UTC)
-- param: end TIMESTAMPTZ            exclusive end (UTC)
-- param: workflow VARCHAR = NULL    only this workflow; NULL means all
-- param: trigger VARCHAR = NULL     only runs with this trigger; NULL means all
-- columns: workflow_id VARCHAR, trigger VARCHAR, runs BIGINT, succeeded BIGINT, failed BIGINT,
--          cancelled BIGINT, other BIGINT, success_rate DOUBLE, failure_rate DOUBLE,
--          cancel_rate DOUBLE, p50_ms DOUBLE, p95_ms DOUBLE, p99_ms DOUBLE, mean_ms DOUBLE,
--          unfinished BIGINT
--
-- Rates are shares of all runs in the group (cancelled runs count in the denominator, like the
-- Overview's workflow_failure_rate); `other` counts any status outside success/failed/cancelled
-- (e.g. running). Duration percentiles (quantile_cont) are over runs with a duration_ms;
-- `unfinished` counts runs without one. A missing trigger is reported as 'unknown'.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH runs AS (
    SELECT workflow_id,
           COALESCE(trigger, 'unknown') AS trigger,
           status,
           duration_ms
    FROM workflow_runs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($workflow IS NULL OR workflow_id = $workflow)
      AND ($trigger IS NULL OR COALESCE(trigger, 'unknown') = $trigger)
), grouped AS (
    SELECT CASE WHEN GROUPING(workflow_id) = 1 THEN 'all' ELSE workflow_id END AS workflow_id,
           CASE WHEN GROUPING(trigger) = 1 THEN 'all' ELSE trigger END AS trigger,
           GROUPING(workflow_id) AS all_workflows,
           GROUPING(trigger) AS all_triggers,
           COUNT(*) AS runs,
           SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS succeeded,
           SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
           SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
           quantile_cont(duration_ms, 0.5) AS p50_ms,
           quantile_cont(duration_ms, 0.95) AS p95_ms,
           quantile_cont(duration_ms, 0.99) AS p99_ms,
           AVG(CAST(duration_ms AS DOUBLE)) AS mean_ms,
           SUM(CASE WHEN duration_ms IS NULL THEN 1 ELSE 0 END) AS unfinished
    FROM runs
    GROUP BY GROUPING SETS ((workflow_id, trigger), (workflow_id), ())
)
SELECT workflow_id,
       trigger,
       runs,
       CAST(succeeded AS BIGINT) AS succeeded,
       CAST(failed AS BIGINT) AS failed,
       CAST(cancelled AS BIGINT) AS cancelled,
       CAST(runs - succeeded - failed - cancelled AS BIGINT) AS other,
       CAST(succeeded AS DOUBLE) / runs AS success_rate,
       CAST(failed AS DOUBLE) / runs AS failure_rate,
       CAST(cancelled AS DOUBLE) / runs AS cancel_rate,
       p50_ms,
       p95_ms,
       p99_ms,
       mean_ms,
       CAST(unfinished AS BIGINT) AS unfinished
FROM grouped
WHERE runs > 0
ORDER BY all_workflows, workflow_id, all_triggers, trigger
