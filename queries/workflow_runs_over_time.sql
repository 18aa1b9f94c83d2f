-- purpose: workflow runs, outcomes and durations over time, per workflow
-- grain: one row per (period_start, workflow_id) for every period of [start, end) and every
--        workflow with a run in the range (periods without runs included: counts 0, others NULL)
-- param: start TIMESTAMPTZ          inclusive start (UTC)
-- param: end TIMESTAMPTZ            exclusive end (UTC)
-- param: period VARCHAR = day       day, week (ISO, Monday) or month
-- param: workflow VARCHAR = NULL    only this workflow; NULL means all
-- columns: period_start DATE, workflow_id VARCHAR, runs BIGINT, succeeded BIGINT, failed BIGINT,
--          cancelled BIGINT, failure_rate DOUBLE, p50_ms DOUBLE, p95_ms DOUBLE, p99_ms DOUBLE
--
-- The first and last period may be partial (they are cut at start and end). Rates are shares of
-- all runs of the period; percentiles are over runs with a duration_ms.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH runs AS (
    SELECT CAST(date_trunc($period, date) AS DATE) AS period_start,
           workflow_id, status, duration_ms
    FROM workflow_runs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($workflow IS NULL OR workflow_id = $workflow)
), periods AS (
    SELECT DISTINCT CAST(date_trunc($period, d) AS DATE) AS period_start
    FROM range(CAST(CAST($start AS DATE) AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) AS t(d)
), workflows AS (
    SELECT DISTINCT workflow_id FROM runs
), agg AS (
    SELECT period_start, workflow_id,
           COUNT(*) AS runs,
           SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS succeeded,
           SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
           SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
           quantile_cont(duration_ms, 0.5) AS p50_ms,
           quantile_cont(duration_ms, 0.95) AS p95_ms,
           quantile_cont(duration_ms, 0.99) AS p99_ms
    FROM runs
    GROUP BY period_start, workflow_id
)
SELECT p.period_start,
       w.workflow_id,
       COALESCE(a.runs, 0) AS runs,
       CAST(COALESCE(a.succeeded, 0) AS BIGINT) AS succeeded,
       CAST(COALESCE(a.failed, 0) AS BIGINT) AS failed,
       CAST(COALESCE(a.cancelled, 0) AS BIGINT) AS cancelled,
       CAST(a.failed AS DOUBLE) / a.runs AS failure_rate,
       a.p50_ms,
       a.p95_ms,
       a.p99_ms
FROM periods AS p
CROSS JOIN workflows AS w
LEFT JOIN agg AS a ON a.period_start = p.period_start AND a.workflow_id = w.workflow_id
ORDER BY p.period_start, w.workflow_id
