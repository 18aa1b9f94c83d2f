-- purpose: RelayCore step metrics of the metric catalog per workflow step (segment = 'workflow_id/step_name') per period
-- grain: one row per UTC period (day or hour) in [start, end) and step seen in the range; periods without attempts included (counts 0, others NULL)
-- param: start TIMESTAMPTZ      inclusive start (UTC); the first period is the one holding it
-- param: end TIMESTAMPTZ        exclusive end (UTC)
-- param: grain VARCHAR = day    period length: 'day' or 'hour'
-- columns: period TIMESTAMPTZ, segment VARCHAR, step_attempts BIGINT, step_failure_rate DOUBLE,
--          step_timed BIGINT, step_mean_duration DOUBLE, step_p95_duration DOUBLE
--
-- A step attempt belongs to the period of its own created_at; its workflow comes from its run.
-- step_failure_rate: share of attempts with status = 'failed' (a retried step counts each try);
-- step_mean_duration and step_p95_duration: mean and quantile_cont of duration_ms over the
-- step_timed attempts with a duration.
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
), st AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(s.date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, s.created_at) END AS period,
           COALESCE(r.workflow_id, '(unknown)') || '/' || s.step_name AS segment,
           COUNT(*) AS step_attempts,
           AVG(CASE WHEN s.status = 'failed' THEN 1.0 ELSE 0.0 END) AS step_failure_rate,
           COUNT(s.duration_ms) AS step_timed,
           AVG(CAST(s.duration_ms AS DOUBLE)) AS step_mean_duration,
           quantile_cont(s.duration_ms, 0.95) AS step_p95_duration
    FROM workflow_steps AS s
    LEFT JOIN workflow_runs AS r ON r.id = s.run_id
    WHERE s.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR s.created_at >= $start)
      AND (s.date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND s.created_at < $end))
    GROUP BY 1, 2
), segments AS (
    SELECT DISTINCT segment FROM st
)
SELECT periods.period,
       segments.segment,
       COALESCE(st.step_attempts, 0) AS step_attempts,
       st.step_failure_rate,
       COALESCE(st.step_timed, 0) AS step_timed,
       st.step_mean_duration,
       CAST(st.step_p95_duration AS DOUBLE) AS step_p95_duration
FROM periods
CROSS JOIN segments
LEFT JOIN st ON st.period = periods.period AND st.segment = segments.segment
ORDER BY periods.period, segments.segment
