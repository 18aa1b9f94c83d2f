-- purpose: the spec's materialized view daily_user_analytics (§4.3) for the workbench's tenant
-- grain: one row per UTC day that has at least one session, ordered by date
-- param: start TIMESTAMPTZ = NULL   inclusive start (UTC); NULL means from the first session
-- param: end TIMESTAMPTZ = NULL     exclusive end (UTC); NULL means through the last session
-- columns: date DATE, unique_users BIGINT, total_sessions BIGINT, avg_session_duration DOUBLE,
--          total_page_views BIGINT, avg_conversion_rate DOUBLE
--
-- Semantics of avg_conversion_rate: the spec writes AVG(events::text::jsonb->>'conversion_rate')
-- ::decimal, which averages text and fails on Postgres. Intended: the mean over the day's
-- sessions of each session's own conversion rate (the number stored under events.conversion_rate),
-- sessions without that key left out (as AVG skips NULL); NULL on a day where no session has it.
-- It reads the typed copy user_sessions.conversion_rate made at extract time, not the JSON.
-- Durations are averaged as DOUBLE (portable: Spark keeps 6 decimals of an AVG over DECIMAL).
SELECT
    date,
    COUNT(DISTINCT user_id) AS unique_users,
    COUNT(*) AS total_sessions,
    AVG(CAST(duration AS DOUBLE)) AS avg_session_duration,
    CAST(SUM(page_views) AS BIGINT) AS total_page_views,
    AVG(conversion_rate) AS avg_conversion_rate
FROM user_sessions
WHERE ($start IS NULL OR (created_at >= $start AND date >= CAST($start AS DATE)))
  AND ($end IS NULL OR (created_at < $end AND date <= CAST($end AS DATE)))
GROUP BY date
ORDER BY date
