-- purpose: an incremental extract's rows for the day partitions it touches: the new rows, plus
-- the rows those partitions already hold that the new rows do not replace (same primary key).
-- grain: one row per primary key
-- params: new_rows (the staged Parquet file of new rows), old_rows (the touched partitions' files)
-- identifiers: primary_key (the table's primary key columns)
SELECT * FROM read_parquet($new_rows, hive_partitioning = false)
UNION ALL BY NAME
SELECT kept.*
FROM read_parquet($old_rows, hive_partitioning = false, union_by_name = true) AS kept
ANTI JOIN read_parquet($new_rows, hive_partitioning = false) AS fresh USING ({primary_key})
