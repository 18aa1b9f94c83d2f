-- purpose: AI attribution per workflow: AI calls, tokens and cost of its runs, per run and per successful run, and the share of run time spent in AI steps
-- grain: one row per workflow with a run started in [start, end), plus one total row (workflow_id = 'all')
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: workflow_id VARCHAR, runs BIGINT, successful_runs BIGINT, runs_with_ai BIGINT,
--          ai_calls BIGINT, failed_ai_calls BIGINT, unlinked_calls BIGINT, input_tokens BIGINT,
--          output_tokens BIGINT, tokens BIGINT, cost_usd DOUBLE, unpriced_calls BIGINT,
--          cost_complete BOOLEAN, cost_per_run DOUBLE, cost_per_successful_run DOUBLE,
--          tokens_per_run DOUBLE, calls_per_run DOUBLE, ai_ms DOUBLE, ai_share_of_run_time DOUBLE
--
-- Reads the view prompt_output_costs (auterity_lab.ml.cost.attach_costs); definitions as in
-- workflow_ai_runs.sql; runs_with_ai are runs with at least one AI step. cost_usd sums priced
-- calls only: NULL when there are AI calls but none is priced, 0 without AI calls, a lower bound
-- when cost_complete is false. cost_per_run divides by
-- all runs, cost_per_successful_run by runs with status 'success' (what one useful outcome
-- costs, failed attempts included). ai_share_of_run_time = ai_ms / the runs' total duration_ms.
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH runs AS (
    SELECT id, workflow_id, status, duration_ms
    FROM workflow_runs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
      AND ($workflow IS NULL OR workflow_id = $workflow)
), ai_steps AS (
    SELECT s.run_id, s.status, s.duration_ms, s.prompt_output_id,
           c.prompt_output_id IS NOT NULL AS found,
           c.input_tokens, c.output_tokens, c.tokens, c.cost_usd, c.priced
    FROM workflow_steps AS s
    JOIN runs AS r ON r.id = s.run_id
    LEFT JOIN prompt_output_costs AS c ON c.prompt_output_id = s.prompt_output_id
    WHERE s.date >= CAST($start AS DATE)
      AND s.date <= CAST($end AS DATE) + $max_run_days
      AND (s.prompt_output_id IS NOT NULL OR s.step_type = 'ai')
), per_run AS (
    SELECT run_id,
           COUNT(*) AS ai_steps,
           SUM(CASE WHEN found THEN 1 ELSE 0 END) AS ai_calls,
           SUM(CASE WHEN found AND status = 'failed' THEN 1 ELSE 0 END) AS failed_ai_calls,
           SUM(CASE WHEN prompt_output_id IS NOT NULL AND NOT found THEN 1 ELSE 0 END) AS unlinked_calls,
           SUM(input_tokens) AS input_tokens,
           SUM(output_tokens) AS output_tokens,
           SUM(tokens) AS tokens,
           SUM(CASE WHEN priced THEN cost_usd END) AS cost_usd,
           SUM(CASE WHEN found AND NOT priced THEN 1 ELSE 0 END) AS unpriced_calls,
           SUM(CAST(duration_ms AS DOUBLE)) AS ai_ms
    FROM ai_steps
    GROUP BY run_id
), grouped AS (
    SELECT CASE WHEN GROUPING(r.workflow_id) = 1 THEN 'all' ELSE r.workflow_id END AS workflow_id,
           GROUPING(r.workflow_id) AS is_total,
           COUNT(*) AS runs,
           SUM(CASE WHEN r.status = 'success' THEN 1 ELSE 0 END) AS successful_runs,
           SUM(CASE WHEN COALESCE(p.ai_steps, 0) > 0 THEN 1 ELSE 0 END) AS runs_with_ai,
           COALESCE(SUM(p.ai_calls), 0) AS ai_calls,
           COALESCE(SUM(p.failed_ai_calls), 0) AS failed_ai_calls,
           COALESCE(SUM(p.unlinked_calls), 0) AS unlinked_calls,
           COALESCE(SUM(p.input_tokens), 0) AS input_tokens,
           COALESCE(SUM(p.output_tokens), 0) AS output_tokens,
           COALESCE(SUM(p.tokens), 0) AS tokens,
           SUM(p.cost_usd) AS cost_usd,
           COALESCE(SUM(p.unpriced_calls), 0) AS unpriced_calls,
           COALESCE(SUM(p.ai_ms), 0.0) AS ai_ms,
           SUM(CAST(r.duration_ms AS DOUBLE)) AS run_ms
    FROM runs AS r
    LEFT JOIN per_run AS p ON p.run_id = r.id
    GROUP BY GROUPING SETS ((r.workflow_id), ())
), costed AS (
    SELECT *, CASE WHEN ai_calls + unlinked_calls = 0 THEN 0.0 ELSE cost_usd END AS cost
    FROM grouped
    WHERE runs > 0
)
SELECT workflow_id,
       runs,
       CAST(successful_runs AS BIGINT) AS successful_runs,
       CAST(runs_with_ai AS BIGINT) AS runs_with_ai,
       CAST(ai_calls AS BIGINT) AS ai_calls,
       CAST(failed_ai_calls AS BIGINT) AS failed_ai_calls,
       CAST(unlinked_calls AS BIGINT) AS unlinked_calls,
       CAST(input_tokens AS BIGINT) AS input_tokens,
       CAST(output_tokens AS BIGINT) AS output_tokens,
       CAST(tokens AS BIGINT) AS tokens,
       cost AS cost_usd,
       CAST(unpriced_calls AS BIGINT) AS unpriced_calls,
       unpriced_calls = 0 AND unlinked_calls = 0 AS cost_complete,
       cost / runs AS cost_per_run,
       cost / NULLIF(successful_runs, 0) AS cost_per_successful_run,
       CAST(tokens AS DOUBLE) / runs AS tokens_per_run,
       CAST(ai_calls AS DOUBLE) / runs AS calls_per_run,
       ai_ms,
       ai_ms / NULLIF(run_ms, 0) AS ai_share_of_run_time
FROM costed
ORDER BY is_total, workflow_id
