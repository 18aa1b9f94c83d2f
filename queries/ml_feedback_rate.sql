-- purpose: how often outputs get feedback and comments, and how the feedback rates them, per arm
-- grain: one row per arm with at least one output in the range, ordered by arm
-- param: start TIMESTAMPTZ               inclusive start of the outputs' created_at (UTC)
-- param: end TIMESTAMPTZ                 exclusive end (UTC)
-- param: by VARCHAR = 'all'              arm: all (one arm 'all'), model_id, model_version ('model @ version') or prompt_version
-- param: model VARCHAR = NULL            only outputs of this model_id; NULL means all
-- param: model_version VARCHAR = NULL    only this model_version; NULL means all
-- param: prompt_version VARCHAR = NULL   only this prompt_version; NULL means all
-- columns: arm VARCHAR, outputs BIGINT, outputs_with_feedback BIGINT, feedback_rate DOUBLE,
--          feedback BIGINT, mean_rating DOUBLE, low_rated_share DOUBLE, high_rated_share DOUBLE,
--          comments BIGINT, comment_rate DOUBLE
--
-- feedback_rate = outputs with at least one feedback row / outputs (errors included: they can
-- be rated too). From the feedback rows: mean_rating, low_rated_share (rating <= 2),
-- high_rated_share (rating >= 4), comments (non-blank comment) and comment_rate = comments /
-- feedback rows.
WITH outputs AS (
    SELECT
        id,
        CASE $by
            WHEN 'all' THEN 'all'
            WHEN 'model_id' THEN model_id
            WHEN 'model_version' THEN model_id || ' @ ' || model_version
            WHEN 'prompt_version' THEN prompt_version
        END AS arm
    FROM prompt_outputs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND ($model IS NULL OR model_id = $model)
      AND ($model_version IS NULL OR model_version = $model_version)
      AND ($prompt_version IS NULL OR prompt_version = $prompt_version)
), fb AS (
    SELECT f.prompt_output_id, CAST(f.rating AS DOUBLE) AS rating,
           f.comment IS NOT NULL AND trim(f.comment) <> '' AS commented
    FROM feedback AS f
    WHERE f.date >= CAST($start AS DATE)
      AND f.prompt_output_id IN (SELECT id FROM outputs)
), per_output AS (
    SELECT prompt_output_id, COUNT(*) AS n FROM fb GROUP BY prompt_output_id
), arm_outputs AS (
    SELECT o.arm, COUNT(*) AS outputs, COUNT(po.prompt_output_id) AS outputs_with_feedback
    FROM outputs AS o
    LEFT JOIN per_output AS po ON po.prompt_output_id = o.id
    GROUP BY o.arm
), arm_feedback AS (
    SELECT
        o.arm,
        COUNT(*) AS feedback,
        AVG(f.rating) AS mean_rating,
        AVG(CASE WHEN f.rating <= 2 THEN 1.0 ELSE 0.0 END) AS low_rated_share,
        AVG(CASE WHEN f.rating >= 4 THEN 1.0 ELSE 0.0 END) AS high_rated_share,
        COUNT(*) FILTER (WHERE f.commented) AS comments
    FROM fb AS f
    JOIN outputs AS o ON o.id = f.prompt_output_id
    GROUP BY o.arm
)
SELECT
    a.arm,
    a.outputs,
    a.outputs_with_feedback,
    CAST(a.outputs_with_feedback AS DOUBLE) / a.outputs AS feedback_rate,
    COALESCE(b.feedback, 0) AS feedback,
    b.mean_rating,
    b.low_rated_share,
    b.high_rated_share,
    COALESCE(b.comments, 0) AS comments,
    CAST(b.comments AS DOUBLE) / NULLIF(b.feedback, 0) AS comment_rate
FROM arm_outputs AS a
LEFT JOIN arm_feedback AS b ON b.arm = a.arm
WHERE a.arm IS NOT NULL
ORDER BY a.arm
