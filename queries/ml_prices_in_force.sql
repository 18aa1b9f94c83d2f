-- purpose: the price in force on one day for every model the tenant has called (needs the model_prices table of attach_costs)
-- grain: one row per distinct model_id of the tenant's prompt outputs, ordered by model
-- param: on DATE   the UTC day whose prices to show
-- columns: model_id VARCHAR, priced BOOLEAN, price_model VARCHAR, effective_from DATE,
--          input_usd_per_1m DOUBLE, output_usd_per_1m DOUBLE, blended_input_share DOUBLE
--
-- The same choice as the prompt_output_costs view (ml_prompt_output_costs.sql): an exact entry
-- beats a pattern, a longer pattern a shorter one, then the latest effective_from <= $on.
-- Models without an entry in force are listed with priced = FALSE and NULL prices.
WITH models AS (
    SELECT DISTINCT model_id FROM prompt_outputs WHERE model_id IS NOT NULL
), candidates AS (
    SELECT
        m.model_id, p.model, p.effective_from, p.input_usd_per_1m, p.output_usd_per_1m,
        p.blended_input_share,
        row_number() OVER (
            PARTITION BY m.model_id
            ORDER BY CASE WHEN p.is_pattern THEN 1 ELSE 0 END, p.specificity DESC,
                     p.effective_from DESC
        ) AS preference
    FROM models AS m
    JOIN model_prices AS p
      ON p.effective_from <= $on
     AND ((NOT p.is_pattern AND m.model_id = p.model)
          OR (p.is_pattern AND m.model_id LIKE p.like_pattern ESCAPE '\'))
)
SELECT
    m.model_id,
    c.model IS NOT NULL AS priced,
    c.model AS price_model,
    c.effective_from,
    c.input_usd_per_1m,
    c.output_usd_per_1m,
    c.blended_input_share
FROM models AS m
LEFT JOIN (SELECT * FROM candidates WHERE preference = 1) AS c ON c.model_id = m.model_id
ORDER BY m.model_id
