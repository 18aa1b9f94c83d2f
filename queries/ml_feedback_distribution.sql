-- purpose: rating distribution of the feedback given (spec submitFeedback) on outputs created in the range, per arm
-- grain: one row per (arm, rating) for every rating 1..5 and any other value given, ordered by arm, rating
-- param: start TIMESTAMPTZ               inclusive start of the rated outputs' created_at (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: by VARCHAR = 'all'              arm: all (one arm 'all'), model_id, model_version ('model @ version') or prompt_version
-- param: model VARCHAR = NULL            only outputs of this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: arm VARCHAR, rating INTEGER, n BIGINT, share DOUBLE
--
-- One feedback row is one rating. Ratings 1..5 always have a row (n = 0 when never given);
-- share = n / all ratings of the arm.
WITH fb AS (
    SELECT
        CASE $by
            WHEN 'all' THEN 'all'
            WHEN 'model_id' THEN p.model_id
            WHEN 'model_version' THEN p.model_id || ' @ ' || p.model_version
            WHEN 'prompt_version' THEN p.prompt_version
        END AS arm,
        CAST(f.rating AS INTEGER) AS rating
    FROM feedback AS f
    JOIN prompt_outputs AS p ON p.id = f.prompt_output_id
    WHERE p.created_at >= $start AND p.created_at < $end
      AND p.date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND f.date >= CAST($start AS DATE)
      AND ($model IS NULL OR p.model_id = $model)
      AND ($model_version IS NULL OR p.model_version = $model_version)
      AND ($prompt_version IS NULL OR p.prompt_version = $prompt_version)
), levels AS (
    SELECT rating FROM (VALUES (1), (2), (3), (4), (5)) AS scale(rating)
    UNION
    SELECT DISTINCT rating FROM fb
), arms AS (
    SELECT arm, COUNT(*) AS total FROM fb WHERE arm IS NOT NULL GROUP BY arm
), counts AS (
    SELECT arm, rating, COUNT(*) AS n FROM fb GROUP BY arm, rating
)
SELECT
    a.arm,
    l.rating,
    COALESCE(c.n, 0) AS n,
    CAST(COALESCE(c.n, 0) AS DOUBLE) / a.total AS share
FROM arms AS a
CROSS JOIN levels AS l
LEFT JOIN counts AS c ON c.arm = a.arm AND c.rating = l.rating
ORDER BY a.arm, l.rating
