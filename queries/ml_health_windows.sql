-- purpose: per model, errors and latency of a recent window against the baseline window before it (model health)
-- grain: one row per model_id with outputs in [start, end), ordered by model
-- param: start TIMESTAMPTZ               inclusive start of the baseline window (UTC)
-- param: split TIMESTAMPTZ               end of the baseline = start of the recent window (UTC)
-- param: end TIMESTAMPTZ                 exclusive end of the recent window (UTC)
-- param: model VARCHAR = NULL            only this model_id; NULL means all
-- columns: model_id VARCHAR, baseline_requests BIGINT, baseline_errors BIGINT,
--          baseline_p50_ms DOUBLE, baseline_p95_ms DOUBLE, recent_requests BIGINT,
--          recent_errors BIGINT, recent_timed BIGINT, recent_p50_ms DOUBLE, recent_p95_ms DOUBLE,
--          recent_over_baseline_p95 BIGINT, last_seen TIMESTAMPTZ
--
-- Latency statistics are over requests that did not error. recent_over_baseline_p95 counts the
-- recent timed requests slower than the baseline p95 (about 5 % of them when nothing changed).
WITH o AS (
    SELECT model_id, created_at, status, response_time_ms, created_at >= $split AS recent
    FROM prompt_outputs
    WHERE created_at >= $start AND created_at < $end
      AND date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
      AND model_id IS NOT NULL
      AND ($model IS NULL OR model_id = $model)
), baseline AS (
    SELECT
        model_id,
        COUNT(*) AS baseline_requests,
        COUNT(*) FILTER (WHERE status = 'error') AS baseline_errors,
        quantile_cont(response_time_ms, 0.50) FILTER (WHERE status <> 'error') AS baseline_p50_ms,
        quantile_cont(response_time_ms, 0.95) FILTER (WHERE status <> 'error') AS baseline_p95_ms
    FROM o
    WHERE NOT recent
    GROUP BY model_id
), recent AS (
    SELECT
        o.model_id,
        COUNT(*) AS recent_requests,
        COUNT(*) FILTER (WHERE o.status = 'error') AS recent_errors,
        COUNT(o.response_time_ms) FILTER (WHERE o.status <> 'error') AS recent_timed,
        quantile_cont(o.response_time_ms, 0.50) FILTER (WHERE o.status <> 'error') AS recent_p50_ms,
        quantile_cont(o.response_time_ms, 0.95) FILTER (WHERE o.status <> 'error') AS recent_p95_ms,
        COUNT(*) FILTER (WHERE o.status <> 'error' AND o.response_time_ms > b.baseline_p95_ms)
            AS recent_over_baseline_p95
    FROM o
    LEFT JOIN baseline AS b ON b.model_id = o.model_id
    WHERE o.recent
    GROUP BY o.model_id
), models AS (
    SELECT model_id, MAX(created_at) AS last_seen FROM o GROUP BY model_id
)
SELECT
    m.model_id,
    COALESCE(b.baseline_requests, 0) AS baseline_requests,
    COALESCE(b.baseline_errors, 0) AS baseline_errors,
    b.baseline_p50_ms,
    b.baseline_p95_ms,
    COALESCE(r.recent_requests, 0) AS recent_requests,
    COALESCE(r.recent_errors, 0) AS recent_errors,
    COALESCE(r.recent_timed, 0) AS recent_timed,
    r.recent_p50_ms,
    r.recent_p95_ms,
    COALESCE(r.recent_over_baseline_p95, 0) AS recent_over_baseline_p95,
    m.last_seen
FROM models AS m
LEFT JOIN baseline AS b ON b.model_id = m.model_id
LEFT JOIN recent AS r ON r.model_id = m.model_id
ORDER BY m.model_id
