-- purpose: AI cost (USD) of the metric catalog per period, overall and per model, from the costing view prompt_output_costs
-- grain: one row per UTC period (day or hour) in [start, end) and segment: '' (all models) and each model seen in the range; empty periods included (cost 0)
-- param: start TIMESTAMPTZ      inclusive start (UTC); the first period is the one holding it
-- param: end TIMESTAMPTZ        exclusive end (UTC)
-- param: grain VARCHAR = day    period length: 'day' or 'hour'
-- columns: period TIMESTAMPTZ, segment VARCHAR, ai_cost DOUBLE, ai_priced BIGINT, ai_unpriced BIGINT
--
-- Reads the view prompt_output_costs (auterity_lab.ml.cost.attach_costs defines it): ai_cost sums
-- cost_usd of the priced outputs; ai_unpriced counts outputs without a price in force (they add
-- nothing to ai_cost, so a period with unpriced outputs understates its cost).
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
WITH periods AS (
    SELECT p AS period
    FROM range(date_trunc($grain, $start), $end,
               CASE WHEN $grain = 'hour' THEN INTERVAL 1 HOUR WHEN $grain = 'day' THEN INTERVAL 1 DAY
                    ELSE error('grain must be ''day'' or ''hour'', not ' || $grain) END) AS t(p)
), c AS (
    SELECT CASE WHEN $grain = 'day' THEN CAST(date AS TIMESTAMPTZ)  -- the UTC day
                ELSE date_trunc($grain, created_at) END AS period,
           COALESCE(model_id, '(none)') AS segment,
           SUM(CASE WHEN priced THEN cost_usd ELSE 0.0 END) AS ai_cost,
           COUNT(*) FILTER (WHERE priced) AS ai_priced,
           COUNT(*) FILTER (WHERE NOT priced) AS ai_unpriced
    FROM prompt_output_costs
    WHERE date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND (CAST($start AS DATE) = $start OR created_at >= $start)
      AND (date < CAST($end AS DATE)
           OR (CAST($end AS DATE) <> $end AND created_at < $end))
    GROUP BY 1, 2
), segments AS (
    SELECT '' AS segment
    UNION ALL
    SELECT DISTINCT segment FROM c
), rolled AS (
    SELECT period, segment, ai_cost, ai_priced, ai_unpriced FROM c
    UNION ALL
    SELECT period, '' AS segment, SUM(ai_cost), SUM(ai_priced), SUM(ai_unpriced) FROM c GROUP BY 1
)
SELECT periods.period,
       segments.segment,
       COALESCE(rolled.ai_cost, 0.0) AS ai_cost,
       CAST(COALESCE(rolled.ai_priced, 0) AS BIGINT) AS ai_priced,
       CAST(COALESCE(rolled.ai_unpriced, 0) AS BIGINT) AS ai_unpriced
FROM periods
CROSS JOIN segments
LEFT JOIN rolled ON rolled.period = periods.period AND rolled.segment = segments.segment
ORDER BY periods.period, segments.segment
