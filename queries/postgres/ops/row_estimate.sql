-- purpose: the planner's row estimate of a table (the total of a full extract's progress bar);
-- negative when the table was never analysed.
-- grain: one row
-- params (psycopg): relation (schema.table)
SELECT coalesce(max(reltuples), -1)::bigint FROM pg_catalog.pg_class WHERE oid = to_regclass(%(relation)s)
