-- purpose: identical prompts sent again to the same model within a cache lifetime: what a response cache would have saved (needs the prompt_output_costs view of attach_costs)
-- grain: one row per (prompt_hash, prompt_version, model_id) with at least one repeat, ordered by the cost of repeats descending
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: ttl_hours DOUBLE = 24           a call is a repeat when the same prompt got a successful answer from the same model at most this long before
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- columns: prompt_hash VARCHAR, prompt_version VARCHAR, model_id VARCHAR, prompt_preview VARCHAR,
--          calls BIGINT, repeats BIGINT, users BIGINT, distinct_outputs BIGINT,
--          repeat_cost_usd DOUBLE, unpriced_repeats BIGINT
--
-- Only successful calls count (an error is not cacheable). repeat_cost_usd is the actual cost of
-- the repeat calls (NULL when none is priced); distinct_outputs counts different answers to the
-- prompt (1 = a cache changes nothing users see).
WITH calls AS (
    SELECT p.prompt_hash, p.prompt_version, p.model_id, p.prompt, p.user_id, p.output,
           p.created_at, c.cost_usd, c.priced,
           lag(p.created_at) OVER (
               PARTITION BY p.prompt_hash, p.prompt_version, p.model_id ORDER BY p.created_at
           ) AS previous_at
    FROM prompt_outputs AS p
    JOIN prompt_output_costs AS c ON c.prompt_output_id = p.id
    WHERE p.created_at >= $start AND p.created_at < $end
      AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND c.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)  -- prunes the cost view too
      AND p.status <> 'error' AND p.prompt_hash IS NOT NULL
      AND ($model IS NULL OR p.model_id = $model)
), flagged AS (
    SELECT *,
           previous_at IS NOT NULL
           AND epoch(created_at) - epoch(previous_at) <= $ttl_hours * 3600.0 AS repeat
    FROM calls
)
SELECT
    prompt_hash,
    prompt_version,
    model_id,
    left(MIN(prompt), 80) AS prompt_preview,
    COUNT(*) AS calls,
    COUNT(*) FILTER (WHERE repeat) AS repeats,
    COUNT(DISTINCT user_id) AS users,
    COUNT(DISTINCT output) AS distinct_outputs,
    SUM(cost_usd) FILTER (WHERE repeat) AS repeat_cost_usd,
    COUNT(*) FILTER (WHERE repeat AND NOT priced) AS unpriced_repeats
FROM flagged
GROUP BY prompt_hash, prompt_version, model_id
HAVING COUNT(*) FILTER (WHERE repeat) > 0
ORDER BY repeat_cost_usd DESC NULLS LAST, repeats DESC, prompt_hash, prompt_version, model_id
