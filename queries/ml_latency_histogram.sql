-- purpose: latency histogram (count per distinct response_time_ms) per comparison arm: the input of quantile bootstraps
-- grain: one row per (arm, response_time_ms) among requests that did not error, ordered by arm, latency
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: by VARCHAR = 'model_id'         arm: model_id, model_version ('model @ version') or prompt_version
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: arm VARCHAR, response_time_ms DOUBLE, n BIGINT
--
-- Resampling rows is resampling this table (a multinomial over its values), so a bootstrap
-- needs no raw rows; latencies are integer milliseconds, so the table stays small.
WITH calls AS (
    SELECT
        CASE $by
            WHEN 'model_id' THEN model_id
            WHEN 'model_version' THEN model_id || ' @ ' || model_version
            WHEN 'prompt_version' THEN prompt_version
        END AS arm,
        CAST(response_time_ms AS DOUBLE) AS response_time_ms
    FROM prompt_outputs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND status <> 'error' AND response_time_ms IS NOT NULL
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
      AND ($prompt_version IS NULL OR prompt_version = $prompt_version)
)
SELECT arm, response_time_ms, COUNT(*) AS n
FROM calls
WHERE arm IS NOT NULL
GROUP BY arm, response_time_ms
ORDER BY arm, response_time_ms
