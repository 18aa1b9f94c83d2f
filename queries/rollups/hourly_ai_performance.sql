-- purpose: the spec's materialized view hourly_ai_performance (§4.3) for the workbench's tenant, from the hourly_ai_performance rollup
-- grain: one row per UTC hour and model_id with at least one prompt output, ordered by hour, model
-- param: start TIMESTAMPTZ = NULL   inclusive start (a whole UTC hour); NULL means from the first output
-- param: end TIMESTAMPTZ = NULL     exclusive end (a whole UTC hour); NULL means through the last output
-- columns: hour TIMESTAMPTZ, model_id VARCHAR, request_count BIGINT, avg_response_time DOUBLE,
--          avg_rating DOUBLE, total_tokens BIGINT, high_rated_requests BIGINT
--
-- Same result as ../hourly_ai_performance.sql (a test keeps them equal) when each bound is NULL or
-- a whole UTC hour: an hour lies inside one UTC day partition, so the rollup
-- (auterity_lab.rollups) holds each (hour, model) answer row, built from that day's extract
-- files; this only picks the hours (the date filter prunes the other days' files).
-- Run only when rollups.usable() says the rollup is fresh and the bounds are whole hours.
SELECT
    hour,
    model_id,
    request_count,
    avg_response_time,
    avg_rating,
    total_tokens,
    high_rated_requests
FROM hourly_ai_performance
WHERE ($start IS NULL OR (hour >= $start AND date >= CAST($start AS DATE)))
  AND ($end IS NULL OR (hour < $end AND date <= CAST($end AS DATE)))
ORDER BY hour, model_id
