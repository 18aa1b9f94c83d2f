-- purpose: RelayCore headline KPIs (workflow runs, failure rate, p95 duration) for the Overview tab and unified analytics
-- grain: one row per metric, in a fixed order
-- param: start TIMESTAMPTZ   inclusive start (UTC)
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: system VARCHAR, metric VARCHAR, value DOUBLE, unit VARCHAR
--
-- Same definitions as the relaycore rows of overview_kpis.sql (a test keeps them equal).
-- workflow_failure_rate counts status = 'failed' among all runs (cancelled runs are neither).
WITH wf AS (
    SELECT COUNT(*) AS runs,
           AVG(CASE WHEN status = 'failed' THEN 1.0 ELSE 0.0 END) AS failure_rate,
           quantile_cont(duration_ms, 0.95) AS p95_duration
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
)
SELECT 'relaycore' AS system, 'workflow_runs' AS metric, CAST(runs AS DOUBLE) AS value, 'runs' AS unit FROM wf
UNION ALL SELECT 'relaycore', 'workflow_failure_rate', failure_rate, 'share' FROM wf
UNION ALL SELECT 'relaycore', 'workflow_p95_duration', p95_duration, 'ms' FROM wf
