-- purpose: workflow run duration SLA: breaches of each workflow's duration target and whether its objective is met
-- grain: one row per workflow with a run started in [start, end)
-- param: start TIMESTAMPTZ                    inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ                      exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL              only this workflow; NULL means all
-- param: default_target_ms DOUBLE = 10000     target of workflows the targets relation does not list
-- param: default_objective DOUBLE = 0.95      objective (share of runs within target) of those workflows
-- columns: workflow_id VARCHAR, target_ms DOUBLE, objective DOUBLE, target_source VARCHAR,
--          runs BIGINT, measured BIGINT, breaches BIGINT, unfinished BIGINT, attainment DOUBLE,
--          meets_objective BOOLEAN, allowed_breaches DOUBLE, budget_used DOUBLE,
--          p95_ms DOUBLE, worst_ms BIGINT, excess_ms DOUBLE
--
-- Reads the relation workflow_sla_targets (workflow_id, target_ms, objective), registered by
-- auterity_lab.workflow.sla from the SLA config; a workflow it does not list gets the defaults
-- (target_source 'default', else 'config'). Cancelled runs are left out (a user stopped them);
-- runs = the other runs, measured = those with a duration_ms, unfinished = those without.
-- A breach is a measured run with duration_ms > target_ms. attainment = 1 - breaches / measured;
-- allowed_breaches = (1 - objective) * measured (the error budget), budget_used = breaches /
-- allowed_breaches (> 1: budget exhausted; NULL when nothing is allowed). excess_ms sums
-- duration_ms - target_ms over breaches; p95_ms (quantile_cont) and worst_ms over measured runs.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH runs AS (
    SELECT workflow_id, duration_ms
    FROM workflow_runs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($workflow IS NULL OR workflow_id = $workflow)
      AND status <> 'cancelled'
), targeted AS (
    SELECT r.workflow_id, r.duration_ms,
           COALESCE(CAST(t.target_ms AS DOUBLE), $default_target_ms) AS target_ms,
           COALESCE(CAST(t.objective AS DOUBLE), $default_objective) AS objective,
           CASE WHEN t.workflow_id IS NULL THEN 'default' ELSE 'config' END AS target_source
    FROM runs AS r
    LEFT JOIN workflow_sla_targets AS t ON t.workflow_id = r.workflow_id
), grouped AS (
    SELECT workflow_id, target_ms, objective, target_source,
           COUNT(*) AS runs,
           COUNT(duration_ms) AS measured,
           SUM(CASE WHEN duration_ms > target_ms THEN 1 ELSE 0 END) AS breaches,
           SUM(CASE WHEN duration_ms > target_ms THEN duration_ms - target_ms ELSE 0 END) AS excess_ms,
           quantile_cont(duration_ms, 0.95) AS p95_ms,
           MAX(duration_ms) AS worst_ms
    FROM targeted
    GROUP BY workflow_id, target_ms, objective, target_source
)
SELECT workflow_id,
       target_ms,
       objective,
       target_source,
       runs,
       measured,
       CAST(breaches AS BIGINT) AS breaches,
       runs - measured AS unfinished,
       1.0 - CAST(breaches AS DOUBLE) / NULLIF(measured, 0) AS attainment,
       1.0 - CAST(breaches AS DOUBLE) / NULLIF(measured, 0) >= objective AS meets_objective,
       (1.0 - objective) * measured AS allowed_breaches,
       CAST(breaches AS DOUBLE) / NULLIF((1.0 - objective) * measured, 0) AS budget_used,
       p95_ms,
       worst_ms,
       CAST(excess_ms AS DOUBLE) AS excess_ms
FROM grouped
ORDER BY workflow_id
