-- purpose: how many rows an incremental extract will read (the total of its progress bar).
-- grain: one row
-- identifiers (psycopg.sql): schema, table, column; params (psycopg): since
SELECT count(*) FROM {schema}.{table} WHERE {column} >= %(since)s
