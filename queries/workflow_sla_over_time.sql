-- purpose: workflow run duration SLA over time: breaches of each workflow's duration target per period
-- grain: one row per (period_start, workflow_id) for every period of [start, end) and every workflow with a (not cancelled) run in the range
-- param: start TIMESTAMPTZ                    inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ                      exclusive end (UTC) of the runs' start
-- param: period VARCHAR = day                 day, week (ISO, Monday) or month
-- param: workflow VARCHAR = NULL              only this workflow; NULL means all
-- param: default_target_ms DOUBLE = 10000     target of workflows the targets relation does not list
-- param: default_objective DOUBLE = 0.95      objective (share of runs within target) of those workflows
-- columns: period_start DATE, workflow_id VARCHAR, target_ms DOUBLE, objective DOUBLE,
--          measured BIGINT, breaches BIGINT, attainment DOUBLE, meets_objective BOOLEAN
--
-- Definitions as in workflow_sla.sql (reads the relation workflow_sla_targets). Periods without
-- measured runs have measured = breaches = 0 and NULL attainment; the first and last period may be
-- partial.
WITH runs AS (
    SELECT CAST(date_trunc($period, date) AS DATE) AS period_start, workflow_id, duration_ms
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND ($workflow IS NULL OR workflow_id = $workflow)
      AND status <> 'cancelled'
), periods AS (
    SELECT DISTINCT CAST(date_trunc($period, d) AS DATE) AS period_start
    FROM range(CAST(CAST($start AS DATE) AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) AS t(d)
), workflows AS (
    SELECT w.workflow_id,
           COALESCE(CAST(t.target_ms AS DOUBLE), $default_target_ms) AS target_ms,
           COALESCE(CAST(t.objective AS DOUBLE), $default_objective) AS objective
    FROM (SELECT DISTINCT workflow_id FROM runs) AS w
    LEFT JOIN workflow_sla_targets AS t ON t.workflow_id = w.workflow_id
), grouped AS (
    SELECT r.period_start, r.workflow_id,
           COUNT(r.duration_ms) AS measured,
           SUM(CASE WHEN r.duration_ms > w.target_ms THEN 1 ELSE 0 END) AS breaches
    FROM runs AS r
    JOIN workflows AS w ON w.workflow_id = r.workflow_id
    GROUP BY r.period_start, r.workflow_id
)
SELECT p.period_start,
       w.workflow_id,
       w.target_ms,
       w.objective,
       COALESCE(g.measured, 0) AS measured,
       CAST(COALESCE(g.breaches, 0) AS BIGINT) AS breaches,
       1.0 - CAST(g.breaches AS DOUBLE) / NULLIF(g.measured, 0) AS attainment,
       1.0 - CAST(g.breaches AS DOUBLE) / NULLIF(g.measured, 0) >= w.objective AS meets_objective
FROM periods AS p
CROSS JOIN workflows AS w
LEFT JOIN grouped AS g ON g.period_start = p.period_start AND g.workflow_id = w.workflow_id
ORDER BY p.period_start, w.workflow_id
