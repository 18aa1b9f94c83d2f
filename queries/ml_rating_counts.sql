-- purpose: how often each rating value was given per comparison arm (model, model version or prompt version): the input of rank tests and rating intervals
-- grain: one row per (arm, rating) with at least one rated output, ordered by arm, rating
-- param: start TIMESTAMPTZ               inclusive start (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: by VARCHAR = 'model_id'         arm: model_id, model_version ('model @ version') or prompt_version
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: arm VARCHAR, rating DOUBLE, n BIGINT
--
-- Ratings are user_rating of the outputs created in the range; outputs whose arm is NULL are left out.
WITH rated AS (
    SELECT
        CASE $by
            WHEN 'model_id' THEN model_id
            WHEN 'model_version' THEN model_id || ' @ ' || model_version
            WHEN 'prompt_version' THEN prompt_version
        END AS arm,
        CAST(user_rating AS DOUBLE) AS rating
    FROM prompt_outputs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND user_rating IS NOT NULL
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
      AND ($prompt_version IS NULL OR prompt_version = $prompt_version)
)
SELECT arm, rating, COUNT(*) AS n
FROM rated
WHERE arm IS NOT NULL
GROUP BY arm, rating
ORDER BY arm, rating
