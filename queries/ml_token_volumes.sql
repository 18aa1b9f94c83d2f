-- purpose: token volumes per model split by how they can be priced (input/output known, or only a total), with their actual cost (needs the prompt_output_costs view of attach_costs)
-- grain: one row per model_id with at least one prompt output in the range, ordered by model
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- columns: model_id VARCHAR, requests BIGINT, errors BIGINT, input_tokens BIGINT,
--          output_tokens BIGINT, blended_tokens BIGINT, cost_usd DOUBLE, unpriced_requests BIGINT
--
-- input_tokens / output_tokens sum the outputs whose split is known (directly or derived from
-- tokens_used); blended_tokens sums tokens of the outputs with only a total. Re-pricing these
-- volumes at another model's price tells what the same traffic would cost there.
SELECT
    c.model_id,
    COUNT(*) AS requests,
    COUNT(*) FILTER (WHERE p.status = 'error') AS errors,
    CAST(COALESCE(SUM(c.input_tokens) FILTER (WHERE c.output_tokens IS NOT NULL), 0) AS BIGINT)
        AS input_tokens,
    CAST(COALESCE(SUM(c.output_tokens) FILTER (WHERE c.input_tokens IS NOT NULL), 0) AS BIGINT)
        AS output_tokens,
    CAST(COALESCE(SUM(c.tokens) FILTER (WHERE c.input_tokens IS NULL OR c.output_tokens IS NULL), 0)
         AS BIGINT) AS blended_tokens,
    SUM(c.cost_usd) AS cost_usd,
    COUNT(*) FILTER (WHERE NOT c.priced) AS unpriced_requests
FROM prompt_output_costs AS c
JOIN prompt_outputs AS p ON p.id = c.prompt_output_id
WHERE p.created_at >= $start AND p.created_at < $end
  AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
  AND c.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)  -- prunes the cost view too
  AND ($model IS NULL OR p.model_id = $model)
GROUP BY c.model_id
ORDER BY c.model_id
