-- purpose: definition of the view prompt_output_costs (created by auterity_lab.ml.cost.attach_costs): every prompt output of the tenant costed at the model price in force on its UTC day
-- grain: one row per prompt output
-- columns: prompt_output_id UUID, model_id VARCHAR, created_at TIMESTAMPTZ, input_tokens BIGINT,
--          output_tokens BIGINT, cost_usd DOUBLE, priced BOOLEAN, price_rule VARCHAR,
--          tokens BIGINT, price_model VARCHAR, price_effective_from DATE, date DATE,
--          user_id UUID, prompt_hash VARCHAR, prompt VARCHAR, model_version VARCHAR,
--          prompt_version VARCHAR, response_time_ms INTEGER, status VARCHAR,
--          user_rating DECIMAL(3,2)
--
-- date is the output's hive partition (its UTC day): filter on it as well as on created_at so a
-- query that reads a date range prunes the other days' files. The columns after date are the
-- prompt output's own, so an analysis of outputs and their cost reads one relation (one scan)
-- instead of joining prompt_outputs to this view on the id.
-- Reads the registered relation model_prices (model, is_pattern, like_pattern, specificity,
-- effective_from DATE, input_usd_per_1m, output_usd_per_1m, blended_input_share), so it runs only
-- after attach_costs. Takes no parameters: a view means the same thing whenever it is read.
--
-- Tokens: a missing input or output count is derived from tokens_used when the other one is
-- known; tokens = tokens_used, else input + output.
-- Price: the candidate entries are those whose model equals model_id (exact) or whose pattern
-- matches it (LIKE form of the glob) and whose effective_from <= the output's UTC day; the exact
-- entry beats a pattern, a longer (more specific) pattern beats a shorter one, then the latest
-- effective_from wins. So an exact entry is in force from its effective_from until the model's
-- next exact entry: those intervals come from the price table alone and are joined to the
-- outputs on the model and the day (for speed: no pass over the outputs to list the model-days
-- that occur). Only the days no exact entry covers look at patterns; their choice depends only on
-- (model_id, UTC day), so it is made once per pair that occurs (and the pairs are listed only
-- when the table has a pattern at all).
-- price_rule: 'split'    both token counts known: (in * input price + out * output price) / 1e6
--             'blended'  only a total: tokens * (s * input price + (1 - s) * output price) / 1e6
--             'unpriced' no price in force for the model on that day, or no token count at all;
--                        cost_usd is NULL (never 0) and priced is FALSE.
WITH outputs AS (
    SELECT
        id,
        model_id,
        created_at,
        date,
        user_id, prompt_hash, prompt, model_version, prompt_version, response_time_ms, status,
        user_rating,
        date AS day,  -- the hive partition is the UTC day of created_at (no time-zone math)
        CAST(COALESCE(input_tokens,
                      CASE WHEN tokens_used >= output_tokens THEN tokens_used - output_tokens END)
             AS BIGINT) AS input_tokens,
        CAST(COALESCE(output_tokens,
                      CASE WHEN tokens_used >= input_tokens THEN tokens_used - input_tokens END)
             AS BIGINT) AS output_tokens,
        CAST(COALESCE(tokens_used, input_tokens + output_tokens) AS BIGINT) AS tokens
    FROM prompt_outputs
), exact_prices AS (
    -- an exact entry is in force from its effective_from until the model's next exact entry
    SELECT
        model AS model_id,
        effective_from AS valid_from,
        -- the latest entry has no end (a far date: portable, unlike DuckDB's 'infinity')
        lead(effective_from, 1, DATE '9999-12-31')
            OVER (PARTITION BY model ORDER BY effective_from) AS valid_to,
        model, effective_from, input_usd_per_1m, output_usd_per_1m, blended_input_share
    FROM model_prices
    WHERE NOT is_pattern
), pattern_days AS (
    -- the (model, UTC day) pairs that occur, only when the table has patterns at all
    SELECT DISTINCT model_id, date AS day
    FROM prompt_outputs
    WHERE model_id IS NOT NULL
      AND EXISTS (SELECT 1 FROM model_prices WHERE is_pattern)
), pattern_prices AS (
    SELECT * FROM (
        SELECT
            m.model_id,
            m.day,
            p.model,
            p.effective_from,
            p.input_usd_per_1m,
            p.output_usd_per_1m,
            p.blended_input_share,
            row_number() OVER (
                PARTITION BY m.model_id, m.day
                ORDER BY p.specificity DESC, p.effective_from DESC
            ) AS preference
        FROM pattern_days AS m
        JOIN model_prices AS p
          ON p.is_pattern
         AND p.effective_from <= m.day
         AND m.model_id LIKE p.like_pattern ESCAPE '\'
    ) AS ranked WHERE preference = 1
), costed AS (
    SELECT
        o.id,
        o.model_id,
        o.created_at,
        o.date,
        o.user_id, o.prompt_hash, o.prompt, o.model_version, o.prompt_version,
        o.response_time_ms, o.status, o.user_rating,
        o.input_tokens,
        o.output_tokens,
        o.tokens,
        -- an exact entry in force beats any pattern
        CASE WHEN e.model IS NOT NULL THEN e.model ELSE p.model END AS price_model,
        CASE WHEN e.model IS NOT NULL THEN e.effective_from ELSE p.effective_from END
            AS price_effective_from,
        CASE WHEN e.model IS NOT NULL THEN e.input_usd_per_1m ELSE p.input_usd_per_1m END
            AS input_usd_per_1m,
        CASE WHEN e.model IS NOT NULL THEN e.output_usd_per_1m ELSE p.output_usd_per_1m END
            AS output_usd_per_1m,
        CASE WHEN e.model IS NOT NULL THEN e.blended_input_share ELSE p.blended_input_share END
            AS blended_input_share
    FROM outputs AS o
    LEFT JOIN exact_prices AS e
      ON e.model_id = o.model_id
     AND o.day >= e.valid_from
     AND o.day < e.valid_to
    LEFT JOIN pattern_prices AS p ON p.model_id = o.model_id AND p.day = o.day
), ruled AS (
    SELECT
        *,
        CASE
            WHEN price_model IS NULL THEN 'unpriced'
            WHEN input_tokens IS NOT NULL AND output_tokens IS NOT NULL THEN 'split'
            WHEN tokens IS NOT NULL THEN 'blended'
            ELSE 'unpriced'
        END AS price_rule
    FROM costed
)
SELECT
    id AS prompt_output_id,
    model_id,
    created_at,
    input_tokens,
    output_tokens,
    CASE price_rule
        WHEN 'split' THEN (CAST(input_tokens AS DOUBLE) * input_usd_per_1m
                           + CAST(output_tokens AS DOUBLE) * output_usd_per_1m) / 1000000.0
        WHEN 'blended' THEN CAST(tokens AS DOUBLE)
                            * (blended_input_share * input_usd_per_1m
                               + (1.0 - blended_input_share) * output_usd_per_1m) / 1000000.0
    END AS cost_usd,
    price_rule <> 'unpriced' AS priced,
    price_rule,
    tokens,
    CASE WHEN price_rule <> 'unpriced' THEN price_model END AS price_model,
    CASE WHEN price_rule <> 'unpriced' THEN price_effective_from END AS price_effective_from,
    date,
    user_id, prompt_hash, prompt, model_version, prompt_version, response_time_ms, status,
    user_rating
FROM ruled
