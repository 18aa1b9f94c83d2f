-- purpose: RelayCore daily series (workflow runs, failure rate) for the Overview tab
-- grain: one row per UTC day in [start, end), days without rows included (counts 0, others NULL)
-- param: start TIMESTAMPTZ   inclusive start (UTC); truncated to its day
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: date DATE, workflow_runs BIGINT, workflow_failure_rate DOUBLE
--
-- Same definitions as the matching columns of overview_daily.sql (a test keeps them equal).
WITH days AS (
    SELECT CAST(d AS DATE) AS date
    FROM range(CAST(CAST($start AS DATE) AS TIMESTAMP), CAST($end AS TIMESTAMP), INTERVAL 1 DAY) AS t(d)
), wf AS (
    SELECT date, COUNT(*) AS workflow_runs,
           AVG(CASE WHEN status = 'failed' THEN 1.0 ELSE 0.0 END) AS workflow_failure_rate
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
    GROUP BY date
)
SELECT days.date,
       COALESCE(wf.workflow_runs, 0) AS workflow_runs,
       wf.workflow_failure_rate
FROM days
LEFT JOIN wf ON wf.date = days.date
ORDER BY days.date
