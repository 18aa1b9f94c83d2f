-- purpose: the columns of one source table, with Postgres's spelling of each type and whether it
-- belongs to the primary key; extract.py checks them against schema.py before reading a row.
-- grain: one row per column, in table order
-- params (psycopg): schema, table
SELECT a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS data_type,
       coalesce(a.attnum = ANY (pk.conkey), false) AS in_primary_key
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_constraint AS pk ON pk.conrelid = c.oid AND pk.contype = 'p'
WHERE n.nspname = %(schema)s
  AND c.relname = %(table)s
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attnum
