-- purpose: AI spend per time bucket (hour, day or week) and model (needs the prompt_output_costs view of attach_costs)
-- grain: one row per (period, model_id) with at least one prompt output, ordered by period, model
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: grain VARCHAR = 'day'           bucket: hour, day or week (UTC; weeks start Monday)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: period TIMESTAMPTZ, model_id VARCHAR, requests BIGINT, priced_requests BIGINT,
--          unpriced_requests BIGINT, tokens BIGINT, cost_usd DOUBLE, cost_per_request DOUBLE
--
-- cost_usd sums priced outputs and is NULL when none is priced (see ml_cost_by_model).
--
-- Range filter (for speed): with whole-day bounds (UTC midnight, as the dashboard passes) the
-- tests of created_at fold away at planning and the partition day `date` (the UTC day of
-- created_at, the partition column) selects the rows alone, so created_at is not read;
-- other bounds still test created_at.
SELECT
    -- days and weeks from the UTC-day partition: no time-zone math per row
    CASE WHEN $grain = 'hour' THEN date_trunc('hour', c.created_at)
         ELSE CAST(date_trunc($grain, c.date) AS TIMESTAMPTZ) END AS period,
    c.model_id,
    COUNT(*) AS requests,
    COUNT(*) FILTER (WHERE c.priced) AS priced_requests,
    COUNT(*) FILTER (WHERE NOT c.priced) AS unpriced_requests,
    CAST(SUM(c.tokens) AS BIGINT) AS tokens,
    SUM(c.cost_usd) AS cost_usd,
    SUM(c.cost_usd) / NULLIF(COUNT(*) FILTER (WHERE c.priced), 0) AS cost_per_request
FROM prompt_output_costs AS c  -- one row per output with its own columns and its cost
WHERE c.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
  AND (CAST($start AS DATE) = $start OR c.created_at >= $start)
  AND (c.date < CAST($end AS DATE)
       OR (CAST($end AS DATE) <> $end AND c.created_at < $end))
  AND ($model IS NULL OR c.model_id = $model)
  AND ($model_version IS NULL OR c.model_version = $model_version)
  AND ($prompt_version IS NULL OR c.prompt_version = $prompt_version)
GROUP BY 1, c.model_id
ORDER BY period, c.model_id
