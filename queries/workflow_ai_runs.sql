-- purpose: AI attribution per workflow run: the AI calls its steps made (workflow_steps.prompt_output_id), their tokens and cost, and the time spent in AI steps
-- grain: one row per workflow run started in [start, end), runs without AI steps included
-- param: start TIMESTAMPTZ            inclusive start (UTC) of the runs' start
-- param: end TIMESTAMPTZ              exclusive end (UTC) of the runs' start
-- param: workflow VARCHAR = NULL      only this workflow; NULL means all
-- param: max_run_days INTEGER = 1     runs finish within this many days of starting (step partitions are read up to end + this)
-- columns: run_id UUID, workflow_id VARCHAR, status VARCHAR, trigger VARCHAR,
--          started_at TIMESTAMPTZ, duration_ms BIGINT, ai_steps BIGINT, ai_calls BIGINT,
--          failed_ai_calls BIGINT, unlinked_calls BIGINT, ai_steps_without_call BIGINT,
--          input_tokens BIGINT, output_tokens BIGINT, tokens BIGINT, cost_usd DOUBLE,
--          unpriced_calls BIGINT, cost_complete BOOLEAN, ai_ms DOUBLE, ai_share DOUBLE
--
-- Reads the view prompt_output_costs (auterity_lab.ml.cost.attach_costs). An AI step is a step
-- attempt with a prompt_output_id or of step_type 'ai'. ai_calls are attempts whose
-- prompt_output_id is found among the tenant's prompt outputs; unlinked_calls reference one that
-- is not (not extracted yet, or deleted); ai_steps_without_call are AI steps with no reference
-- (e.g. cancelled before the call). failed_ai_calls are calls whose step attempt failed.
-- cost_usd sums the priced calls only: it is 0 for a run without AI calls (linked or unlinked),
-- NULL when it has calls but none is priced, and a lower bound when cost_complete is false
-- (unpriced or unlinked calls); an unpriced call is never counted as $0. ai_ms sums the AI step attempts' duration_ms;
-- ai_share = ai_ms / duration_ms.
WITH runs AS (
    SELECT id, workflow_id, status, trigger, started_at, duration_ms
    FROM workflow_runs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
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
           SUM(CASE WHEN prompt_output_id IS NULL THEN 1 ELSE 0 END) AS ai_steps_without_call,
           SUM(input_tokens) AS input_tokens,
           SUM(output_tokens) AS output_tokens,
           SUM(tokens) AS tokens,
           SUM(CASE WHEN priced THEN cost_usd END) AS cost_usd,
           SUM(CASE WHEN found AND NOT priced THEN 1 ELSE 0 END) AS unpriced_calls,
           SUM(CAST(duration_ms AS DOUBLE)) AS ai_ms
    FROM ai_steps
    GROUP BY run_id
)
SELECT r.id AS run_id,
       r.workflow_id,
       r.status,
       r.trigger,
       r.started_at,
       r.duration_ms,
       COALESCE(p.ai_steps, 0) AS ai_steps,
       CAST(COALESCE(p.ai_calls, 0) AS BIGINT) AS ai_calls,
       CAST(COALESCE(p.failed_ai_calls, 0) AS BIGINT) AS failed_ai_calls,
       CAST(COALESCE(p.unlinked_calls, 0) AS BIGINT) AS unlinked_calls,
       CAST(COALESCE(p.ai_steps_without_call, 0) AS BIGINT) AS ai_steps_without_call,
       CAST(COALESCE(p.input_tokens, 0) AS BIGINT) AS input_tokens,
       CAST(COALESCE(p.output_tokens, 0) AS BIGINT) AS output_tokens,
       CAST(COALESCE(p.tokens, 0) AS BIGINT) AS tokens,
       CASE WHEN COALESCE(p.ai_calls, 0) + COALESCE(p.unlinked_calls, 0) = 0 THEN 0.0 ELSE p.cost_usd END AS cost_usd,
       CAST(COALESCE(p.unpriced_calls, 0) AS BIGINT) AS unpriced_calls,
       COALESCE(p.unpriced_calls, 0) = 0 AND COALESCE(p.unlinked_calls, 0) = 0 AS cost_complete,
       COALESCE(p.ai_ms, 0.0) AS ai_ms,
       COALESCE(p.ai_ms, 0.0) / NULLIF(r.duration_ms, 0) AS ai_share
FROM runs AS r
LEFT JOIN per_run AS p ON p.run_id = r.id
ORDER BY r.started_at, r.id
