-- purpose: deployment markers found in the AI calls: the first call of each new model_version of a model and of each new prompt_version (spec §10.3 DeploymentMonitor)
-- grain: one row per (kind, scope, version) first seen in [start, end) at least min_history_days after the first call of its scope, ordered by deployed_at
-- param: start TIMESTAMPTZ                    inclusive start (UTC) of the deployment times reported
-- param: end TIMESTAMPTZ                      exclusive end (UTC)
-- param: min_history_days INTEGER = 7         a version counts as deployed only this long after its scope's first call (versions live from the start are not deployments)
-- columns: kind VARCHAR, scope VARCHAR, version VARCHAR, previous_version VARCHAR,
--          deployed_at TIMESTAMPTZ
--
-- kind 'model_version': scope is the model_id, version its model_version;
-- kind 'prompt_version': scope is '' (all prompts), version the prompt_version.
-- First appearances are taken over the tenant's whole history (no partition pruning: a version
-- is new only if it never appeared before). previous_version is the version first seen just
-- before it in the same scope.
WITH versions AS (
    SELECT 'model_version' AS kind, model_id AS scope, model_version AS version,
           MIN(created_at) AS first_seen
    FROM prompt_outputs
    WHERE model_id IS NOT NULL AND model_version IS NOT NULL
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT 'prompt_version' AS kind, '' AS scope, prompt_version AS version,
           MIN(created_at) AS first_seen
    FROM prompt_outputs
    WHERE prompt_version IS NOT NULL
    GROUP BY 1, 2, 3
), ordered AS (
    SELECT kind, scope, version, first_seen,
           LAG(version) OVER (PARTITION BY kind, scope ORDER BY first_seen, version) AS previous_version,
           MIN(first_seen) OVER (PARTITION BY kind, scope) AS scope_first
    FROM versions
)
SELECT kind, scope, version, previous_version, first_seen AS deployed_at
FROM ordered
WHERE first_seen >= scope_first + $min_history_days * INTERVAL 1 DAY
  AND first_seen >= $start AND first_seen < $end
ORDER BY deployed_at, kind, scope, version
