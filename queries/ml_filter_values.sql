-- purpose: the models, model versions and prompt versions present in a range: the choices of the AI/ML filters
-- grain: one row per (model_id, model_version, prompt_version) with prompt outputs in the range, ordered by model, versions
-- param: start TIMESTAMPTZ   inclusive start (UTC)
-- param: end TIMESTAMPTZ     exclusive end (UTC)
-- columns: model_id VARCHAR, model_version VARCHAR, prompt_version VARCHAR, requests BIGINT
SELECT model_id, model_version, prompt_version, COUNT(*) AS requests
FROM prompt_outputs
WHERE created_at >= $start AND created_at < $end
  AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
GROUP BY model_id, model_version, prompt_version
ORDER BY model_id, model_version, prompt_version
