-- purpose: latency histogram (count per distinct response_time_ms) per comparison arm: the input of quantile bootstraps, from the model_latency_days rollup
-- grain: one row per (arm, response_time_ms) among requests that did not error, ordered by arm, latency
-- param: start TIMESTAMPTZ               inclusive start (UTC midnight)
-- param: end TIMESTAMPTZ                 exclusive end (UTC midnight)
-- param: by VARCHAR = 'model_id'         arm: model_id or model_version ('model @ version'); not prompt_version
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   must be NULL: the rollup does not keep prompt versions
-- columns: arm VARCHAR, response_time_ms DOUBLE, n BIGINT
--
-- Same result as ../ml_latency_histogram.sql (a test keeps them equal) for ranges of whole UTC
-- days and arms of models or model versions: model_latency_days already counts the outputs per
-- (model, version, errored, response time, day). Run only when rollups.usable() says
-- it is fresh and the bounds are midnights.
WITH calls AS (
    SELECT
        CASE $by
            WHEN 'model_id' THEN model_id
            WHEN 'model_version' THEN model_id || ' @ ' || model_version
            WHEN 'prompt_version'
                THEN error('the ml_latency_histogram rollup form has no prompt versions')
        END AS arm,
        CAST(response_time_ms AS DOUBLE) AS response_time_ms,
        outputs
    FROM model_latency_days
    WHERE date >= CAST($start AS DATE) AND date < CAST($end AS DATE)
      AND NOT errored  -- status <> 'error' (NULL status excluded alike)
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
      AND (CASE WHEN $prompt_version IS NULL THEN true
                ELSE error('the ml_latency_histogram rollup form has no prompt versions') END)
)
SELECT arm, response_time_ms, CAST(SUM(outputs) AS BIGINT) AS n
FROM calls
WHERE arm IS NOT NULL
GROUP BY arm, response_time_ms
ORDER BY arm, response_time_ms
