-- purpose: the watermark an extract records, read before it reads rows: the newest value of the
-- watermark column, capped at the server clock (rows stamped in the future are re-read later).
-- grain: one row
-- identifiers (psycopg.sql): schema, table, column
SELECT CASE WHEN max({column}) IS NULL THEN NULL
            ELSE least(max({column}), statement_timestamp()) END AS watermark
FROM {schema}.{table}
