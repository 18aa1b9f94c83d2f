-- purpose: AI calls of workflow steps per model: calls, failures, tokens, cost and step latency
-- grain: one row per (workflow_id, step_name, model_id) over AI step attempts of runs started in [start, end)
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: workflow_id VARCHAR, step_name VARCHAR, model_id VARCHAR, ai_steps BIGINT,
--          ai_calls BIGINT, failed_ai_calls BIGINT, unlinked_calls BIGINT, input_tokens BIGINT,
--          output_tokens BIGINT, tokens BIGINT, cost_usd DOUBLE, unpriced_calls BIGINT,
--          cost_complete BOOLEAN, cost_per_call DOUBLE, tokens_per_call DOUBLE,
--          p50_ms DOUBLE, p95_ms DOUBLE
--
-- Reads the view prompt_output_costs (auterity_lab.ml.cost.attach_costs); definitions as in
-- workflow_ai_runs.sql. model_id is NULL for AI steps without a call found (unlinked or no
-- reference). cost_usd is 0 without calls, NULL when no call is priced; cost_per_call =
-- cost_usd / priced calls (NULL without any). p50_ms and p95_ms are
-- of the successful AI step attempts' duration_ms (the call plus the step's own overhead).
WITH runs AS (
    SELECT id, workflow_id
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND ($workflow IS NULL OR workflow_id = $workflow)
), ai_steps AS (
    SELECT r.workflow_id, s.step_name, s.status, s.duration_ms, s.prompt_output_id,
           c.prompt_output_id IS NOT NULL AS found, c.model_id,
           c.input_tokens, c.output_tokens, c.tokens, c.cost_usd, c.priced
    FROM workflow_steps AS s
    JOIN runs AS r ON r.id = s.run_id
    LEFT JOIN prompt_output_costs AS c ON c.prompt_output_id = s.prompt_output_id
    WHERE s.date >= CAST($start AS DATE)
      AND s.date <= CAST($end AS DATE) + $max_run_days
      AND (s.prompt_output_id IS NOT NULL OR s.step_type = 'ai')
), grouped AS (
    SELECT workflow_id, step_name, model_id,
           COUNT(*) AS ai_steps,
           SUM(CASE WHEN found THEN 1 ELSE 0 END) AS ai_calls,
           SUM(CASE WHEN found AND status = 'failed' THEN 1 ELSE 0 END) AS failed_ai_calls,
           SUM(CASE WHEN prompt_output_id IS NOT NULL AND NOT found THEN 1 ELSE 0 END) AS unlinked_calls,
           COALESCE(SUM(input_tokens), 0) AS input_tokens,
           COALESCE(SUM(output_tokens), 0) AS output_tokens,
           COALESCE(SUM(tokens), 0) AS tokens,
           SUM(CASE WHEN priced THEN cost_usd END) AS cost_usd,
           SUM(CASE WHEN priced THEN 1 ELSE 0 END) AS priced_calls,
           SUM(CASE WHEN found AND NOT priced THEN 1 ELSE 0 END) AS unpriced_calls,
           quantile_cont(CASE WHEN status = 'success' THEN duration_ms END, 0.5) AS p50_ms,
           quantile_cont(CASE WHEN status = 'success' THEN duration_ms END, 0.95) AS p95_ms
    FROM ai_steps
    GROUP BY workflow_id, step_name, model_id
)
SELECT workflow_id,
       step_name,
       model_id,
       ai_steps,
       CAST(ai_calls AS BIGINT) AS ai_calls,
       CAST(failed_ai_calls AS BIGINT) AS failed_ai_calls,
       CAST(unlinked_calls AS BIGINT) AS unlinked_calls,
       CAST(input_tokens AS BIGINT) AS input_tokens,
       CAST(output_tokens AS BIGINT) AS output_tokens,
       CAST(tokens AS BIGINT) AS tokens,
       CASE WHEN ai_calls + unlinked_calls = 0 THEN 0.0 ELSE cost_usd END AS cost_usd,
       CAST(unpriced_calls AS BIGINT) AS unpriced_calls,
       unpriced_calls = 0 AND unlinked_calls = 0 AS cost_complete,
       cost_usd / NULLIF(priced_calls, 0) AS cost_per_call,
       CAST(tokens AS DOUBLE) / NULLIF(ai_calls, 0) AS tokens_per_call,
       p50_ms,
       p95_ms
FROM grouped
ORDER BY workflow_id, step_name, model_id
