-- purpose: how far the tenant's data reaches: the newest row of each system's main table
-- grain: one row per table (user_sessions, prompt_outputs, workflow_runs)
-- columns: system VARCHAR, table_name VARCHAR, newest TIMESTAMPTZ, rows BIGINT
--
-- newest is NULL and rows 0 for a table without rows of the tenant.
SELECT 'auterity' AS system, 'user_sessions' AS table_name, max(created_at) AS newest,
       count(*) AS rows
FROM user_sessions
UNION ALL
SELECT 'neuroweaver', 'prompt_outputs', max(created_at), count(*) FROM prompt_outputs
UNION ALL
SELECT 'relaycore', 'workflow_runs', max(created_at), count(*) FROM workflow_runs
