-- purpose: AI spend per model with unit costs: per request, per user, per high-rated answer (needs the prompt_output_costs view of attach_costs)
-- grain: one row per model_id with at least one prompt output in the range, ordered by cost (unpriced last), then model
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: model_id VARCHAR, requests BIGINT, priced_requests BIGINT, unpriced_requests BIGINT,
--          input_tokens BIGINT, output_tokens BIGINT, tokens BIGINT, cost_usd DOUBLE,
--          cost_per_request DOUBLE, users BIGINT, cost_per_user DOUBLE, high_rated_answers BIGINT,
--          cost_per_high_rated_answer DOUBLE, blended_requests BIGINT
--
-- cost_usd sums the priced outputs only and is NULL (not 0) when none is priced; the unit costs
-- divide it by the priced outputs, the distinct users of priced outputs, and the priced outputs
-- rated >= 4 (every priced call counts in the numerator: what one good answer costs).
-- unpriced_requests counts outputs without a price in force (or without token counts);
-- blended_requests those costed with the blended rule (only tokens_used known).
WITH rows_in_range AS (
    SELECT c.model_id, c.input_tokens, c.output_tokens, c.tokens, c.cost_usd, c.priced,
           c.price_rule, p.user_id, p.user_rating
    FROM prompt_output_costs AS c
    JOIN prompt_outputs AS p ON p.id = c.prompt_output_id
    WHERE p.created_at >= $start AND p.created_at < $end
      AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND c.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)  -- prunes the cost view too
      AND ($model IS NULL OR p.model_id = $model)
      AND ($model_version IS NULL OR p.model_version = $model_version)
      AND ($prompt_version IS NULL OR p.prompt_version = $prompt_version)
)
SELECT
    model_id,
    COUNT(*) AS requests,
    COUNT(*) FILTER (WHERE priced) AS priced_requests,
    COUNT(*) FILTER (WHERE NOT priced) AS unpriced_requests,
    CAST(SUM(input_tokens) AS BIGINT) AS input_tokens,
    CAST(SUM(output_tokens) AS BIGINT) AS output_tokens,
    CAST(SUM(tokens) AS BIGINT) AS tokens,
    SUM(cost_usd) AS cost_usd,
    SUM(cost_usd) / NULLIF(COUNT(*) FILTER (WHERE priced), 0) AS cost_per_request,
    COUNT(DISTINCT user_id) FILTER (WHERE priced) AS users,
    SUM(cost_usd) FILTER (WHERE user_id IS NOT NULL)
        / NULLIF(COUNT(DISTINCT user_id) FILTER (WHERE priced), 0) AS cost_per_user,
    COUNT(*) FILTER (WHERE priced AND user_rating >= 4) AS high_rated_answers,
    SUM(cost_usd) / NULLIF(COUNT(*) FILTER (WHERE priced AND user_rating >= 4), 0)
        AS cost_per_high_rated_answer,
    COUNT(*) FILTER (WHERE price_rule = 'blended') AS blended_requests
FROM rows_in_range
GROUP BY model_id
ORDER BY CASE WHEN SUM(cost_usd) IS NULL THEN 1 ELSE 0 END, SUM(cost_usd) DESC, model_id
