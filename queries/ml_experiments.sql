-- purpose: the tenant's experiments (spec A/B tests, startModelTuning) with their variants and exposure counts
-- grain: one row per experiment, newest first
-- columns: experiment_id VARCHAR, experiment_key VARCHAR, name VARCHAR, status VARCHAR,
--          variants VARCHAR, primary_metric VARCHAR, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ,
--          created_at TIMESTAMPTZ, assigned_users BIGINT, first_exposure TIMESTAMPTZ,
--          last_exposure TIMESTAMPTZ, data_end TIMESTAMPTZ
--
-- variants is the JSON list [{"name": ..., "allocation": percent}, ...]. data_end is the latest
-- prompt output or assignment of the tenant (the end of what can be analysed).
WITH exposure AS (
    SELECT experiment_id, COUNT(DISTINCT user_id) AS assigned_users,
           MIN(created_at) AS first_exposure, MAX(created_at) AS last_exposure
    FROM experiment_assignments
    GROUP BY experiment_id
), data_end AS (
    SELECT MAX(latest) AS data_end FROM (
        SELECT MAX(created_at) AS latest FROM prompt_outputs
        UNION ALL
        SELECT MAX(created_at) FROM experiment_assignments
    ) AS ends
)
SELECT
    CAST(e.id AS VARCHAR) AS experiment_id,
    e.experiment_key,
    e.name,
    e.status,
    CAST(e.variants AS VARCHAR) AS variants,
    e.primary_metric,
    e.started_at,
    e.ended_at,
    e.created_at,
    COALESCE(x.assigned_users, 0) AS assigned_users,
    x.first_exposure,
    x.last_exposure,
    d.data_end
FROM experiments AS e
LEFT JOIN exposure AS x ON x.experiment_id = e.id
CROSS JOIN data_end AS d
ORDER BY e.created_at DESC, e.experiment_key
