-- purpose: RelayCore metrics of the metric catalog (workflow runs, failures, run duration) per period
-- grain: one row per UTC period (day or hour) in [start, end), empty periods included (counts 0, others NULL)
-- param: start TIMESTAMPTZ      inclusive start (UTC); the first period is the one holding it
-- param: end TIMESTAMPTZ        exclusive end (UTC)
-- param: grain VARCHAR = day    period length: 'day' or 'hour'
-- columns: period TIMESTAMPTZ, workflow_runs BIGINT, workflow_failure_rate DOUBLE,
--          workflow_timed BIGINT, workflow_mean_duration DOUBLE, workflow_p95_duration DOUBLE
--
-- workflow_failure_rate: share of runs with status = 'failed' (cancelled runs are neither);
-- workflow_mean_duration and workflow_p95_duration: mean and quantile_cont of duration_ms over
-- the workflow_timed runs with a duration.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH periods AS (
    SELECT p AS period
    FROM range(date_trunc($grain, $start), $end,
               CASE WHEN $grain = 'hour' THEN INTERVAL 1 HOUR WHEN $grain = 'day' THEN INTERVAL 1 DAY
                    ELSE error('grain must be ''day'' or ''hour'', not ' || $grain) END) AS t(p)
), wf AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, created_at) END AS period,
           COUNT(*) AS workflow_runs,
           AVG(CASE WHEN status = 'failed' THEN 1.0 ELSE 0.0 END) AS workflow_failure_rate,
           COUNT(duration_ms) AS workflow_timed,
           AVG(CAST(duration_ms AS DOUBLE)) AS workflow_mean_duration,
           quantile_cont(duration_ms, 0.95) AS workflow_p95_duration
    FROM workflow_runs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
    GROUP BY 1
)
SELECT periods.period,
       COALESCE(wf.workflow_runs, 0) AS workflow_runs,
       wf.workflow_failure_rate,
       COALESCE(wf.workflow_timed, 0) AS workflow_timed,
       wf.workflow_mean_duration,
       CAST(wf.workflow_p95_duration AS DOUBLE) AS workflow_p95_duration
FROM periods
LEFT JOIN wf ON wf.period = periods.period
ORDER BY periods.period
