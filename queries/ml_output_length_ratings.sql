-- purpose: do long outputs earn better ratings? per prompt and model: ratings of outputs above vs at or below a length cap, and the tokens above the cap (needs the prompt_output_costs view of attach_costs)
-- grain: one row per (prompt_hash, prompt_version, model_id) with successful outputs of known length in the range, ordered by excess tokens descending
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: cap_quantile DOUBLE = 0.75      the cap is this quantile (quantile_cont, rounded up) of the prompt's output tokens
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- columns: prompt_hash VARCHAR, prompt_version VARCHAR, model_id VARCHAR, prompt_preview VARCHAR,
--          requests BIGINT, cap_tokens BIGINT, long_outputs BIGINT, excess_output_tokens BIGINT,
--          rated_long BIGINT, rating_sum_long DOUBLE, rating_sq_long DOUBLE, rated_short BIGINT,
--          rating_sum_short DOUBLE, rating_sq_short DOUBLE
--
-- Long outputs have more output tokens than cap_tokens; excess_output_tokens = sum of
-- (output_tokens - cap_tokens) over them: what a max-tokens cap at cap_tokens would not generate.
-- Ratings are user_rating; sums and sums of squares give means and variances per group.
WITH o AS (
    SELECT p.prompt_hash, p.prompt_version, p.model_id, p.prompt,
           c.output_tokens, CAST(p.user_rating AS DOUBLE) AS rating
    FROM prompt_outputs AS p
    JOIN prompt_output_costs AS c ON c.prompt_output_id = p.id
    WHERE p.created_at >= $start AND p.created_at < $end
      AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND c.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)  -- prunes the cost view too
      AND p.status <> 'error' AND c.output_tokens IS NOT NULL AND p.prompt_hash IS NOT NULL
      AND ($model IS NULL OR p.model_id = $model)
), caps AS (
    SELECT prompt_hash, prompt_version, model_id,
           CAST(ceil(quantile_cont(output_tokens, $cap_quantile)) AS BIGINT) AS cap_tokens
    FROM o
    GROUP BY prompt_hash, prompt_version, model_id
), flagged AS (
    SELECT o.*, k.cap_tokens, o.output_tokens > k.cap_tokens AS long
    FROM o
    JOIN caps AS k
      ON k.prompt_hash = o.prompt_hash AND k.model_id = o.model_id
     AND k.prompt_version IS NOT DISTINCT FROM o.prompt_version
)
SELECT
    prompt_hash,
    prompt_version,
    model_id,
    left(MIN(prompt), 80) AS prompt_preview,
    COUNT(*) AS requests,
    MIN(cap_tokens) AS cap_tokens,
    COUNT(*) FILTER (WHERE long) AS long_outputs,
    CAST(COALESCE(SUM(output_tokens - cap_tokens) FILTER (WHERE long), 0) AS BIGINT)
        AS excess_output_tokens,
    COUNT(rating) FILTER (WHERE long) AS rated_long,
    SUM(rating) FILTER (WHERE long) AS rating_sum_long,
    SUM(rating * rating) FILTER (WHERE long) AS rating_sq_long,
    COUNT(rating) FILTER (WHERE NOT long) AS rated_short,
    SUM(rating) FILTER (WHERE NOT long) AS rating_sum_short,
    SUM(rating * rating) FILTER (WHERE NOT long) AS rating_sq_short
FROM flagged
GROUP BY prompt_hash, prompt_version, model_id
ORDER BY excess_output_tokens DESC, prompt_hash, prompt_version, model_id
