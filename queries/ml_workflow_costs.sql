-- purpose: AI spend per workflow: cost per run of the AI calls its steps made (needs the prompt_output_costs view of attach_costs)
-- grain: one row per workflow_id with at least one run created in the range, ordered by cost (unpriced last), then workflow
-- param: start TIMESTAMPTZ               inclusive start of the runs' created_at (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: model VARCHAR = NULL            only AI calls of this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only AI calls of this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only AI calls of this prompt_version; NULL means all
-- columns: workflow_id VARCHAR, runs BIGINT, runs_with_ai BIGINT, ai_calls BIGINT,
--          unpriced_calls BIGINT, cost_usd DOUBLE, cost_per_run DOUBLE, cost_per_ai_run DOUBLE
--
-- A run's AI calls are its steps' prompt_output_id (every attempt counts: retries cost too).
-- cost_per_run divides by all runs, cost_per_ai_run by the runs with at least one AI call;
-- cost_usd is NULL when no call is priced.
WITH runs AS (
    SELECT id, workflow_id
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
), calls AS (
    SELECT s.run_id, c.cost_usd, c.priced
    FROM workflow_steps AS s
    JOIN prompt_output_costs AS c ON c.prompt_output_id = s.prompt_output_id
    JOIN prompt_outputs AS p ON p.id = s.prompt_output_id
    WHERE s.date >= CAST($start AS DATE)
      AND ($model IS NULL OR p.model_id = $model)
      AND ($model_version IS NULL OR p.model_version = $model_version)
      AND ($prompt_version IS NULL OR p.prompt_version = $prompt_version)
)
SELECT
    r.workflow_id,
    COUNT(DISTINCT r.id) AS runs,
    COUNT(DISTINCT c.run_id) AS runs_with_ai,
    COUNT(c.run_id) AS ai_calls,
    COUNT(*) FILTER (WHERE NOT c.priced) AS unpriced_calls,
    SUM(c.cost_usd) AS cost_usd,
    SUM(c.cost_usd) / COUNT(DISTINCT r.id) AS cost_per_run,
    SUM(c.cost_usd) / NULLIF(COUNT(DISTINCT c.run_id), 0) AS cost_per_ai_run
FROM runs AS r
LEFT JOIN calls AS c ON c.run_id = r.id
GROUP BY r.workflow_id
ORDER BY CASE WHEN SUM(c.cost_usd) IS NULL THEN 1 ELSE 0 END, SUM(c.cost_usd) DESC, r.workflow_id
