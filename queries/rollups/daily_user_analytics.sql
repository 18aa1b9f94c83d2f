-- purpose: the spec's materialized view daily_user_analytics (§4.3) for the workbench's tenant, from the daily_user_analytics rollup
-- grain: one row per UTC day that has at least one session, ordered by date
-- param: start TIMESTAMPTZ = NULL   inclusive start (UTC midnight); NULL means from the first session
-- param: end TIMESTAMPTZ = NULL     exclusive end (UTC midnight); NULL means through the last session
-- columns: date DATE, unique_users BIGINT, total_sessions BIGINT, avg_session_duration DOUBLE,
--          total_page_views BIGINT, avg_conversion_rate DOUBLE
--
-- Same result as ../daily_user_analytics.sql (a test keeps them equal) when each bound is NULL or
-- a UTC midnight: a day's group is the day itself, so the rollup (auterity_lab.rollups) holds
-- each day's answer row, built from that day's extract files; this only picks the days.
-- Run only when rollups.usable() says the rollup is fresh and the bounds are midnights.
SELECT
    date,
    unique_users,
    total_sessions,
    avg_session_duration,
    total_page_views,
    avg_conversion_rate
FROM daily_user_analytics
WHERE ($start IS NULL OR date >= CAST($start AS DATE))
  AND ($end IS NULL OR date < CAST($end AS DATE))
ORDER BY date
