-- purpose: rows sent so far by each running COPY of one application's sessions (DuckDB's scanner
-- reads with COPY ... TO STDOUT); the extract's progress bar polls it.
-- grain: one row per running COPY
-- params (psycopg): application
SELECT p.pid, p.tuples_processed
FROM pg_catalog.pg_stat_progress_copy AS p
JOIN pg_catalog.pg_stat_activity AS a USING (pid)
WHERE a.application_name = %(application)s
