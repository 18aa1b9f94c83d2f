-- purpose: ordered conversion funnel over event types (with per-step property filters) within a conversion window
-- grain: one row per (segment, step) for steps 1 .. N, for each segment with at least one user entering the funnel
-- param: start TIMESTAMPTZ               inclusive start (UTC): users enter with a step-1 event in [start, end)
-- param: end TIMESTAMPTZ                 exclusive end (UTC) of the entries; later steps may fall after it
-- param: steps VARCHAR[]                 event_type of each step, in order (repeats allowed)
-- param: filter_steps VARCHAR[] = NULL   property filters, as three parallel lists: step number (1-based),
-- param: filter_keys VARCHAR[] = NULL    top-level key of events.properties,
-- param: filter_values VARCHAR[] = NULL  and the value it must equal (as text); all filters of a step must hold
-- param: window_seconds INTEGER = 1209600  conversion window: every step within this many seconds of the entry (inclusive); 14 days by default
-- param: strict BOOLEAN = false          false: other events may come between steps; true: each step is the user's very next event
-- param: breakdown_property VARCHAR = NULL  segment users by this property of their first step-1 event in the range (first touch); overrides breakdown
-- param: breakdown VARCHAR = NULL        device | country | plan | channel (user attributes); NULL: 'all'
-- param: device VARCHAR[] = NULL         keep users whose device is one of these; NULL: all
-- param: country VARCHAR[] = NULL        keep users whose country is one of these; NULL: all
-- param: plan VARCHAR[] = NULL           keep users whose plan is one of these; NULL: all
-- param: channel VARCHAR[] = NULL        keep users whose acquisition_channel is one of these; NULL: all
-- columns: segment VARCHAR, step INTEGER, event VARCHAR, users BIGINT, conversion_from_first DOUBLE,
--          conversion_from_previous DOUBLE, dropped BIGINT, drop_off_rate DOUBLE,
--          median_seconds_from_previous DOUBLE, p90_seconds_from_previous DOUBLE,
--          median_seconds_from_first DOUBLE, p90_seconds_from_first DOUBLE
--
-- Each step must happen strictly after the previous one, and at most window_seconds after the
-- step-1 event (an event exactly at the window's end still counts). Every step-1 event in the
-- range is a possible entry; a user counts once, at the furthest step any entry reaches. The
-- chains are built one step at a time (recursive CTE): a step-k event extends the step-(k-1)
-- chains before it and keeps the latest start among them, the shortest chain to that event, so a
-- step is reached exactly when some chain to it fits in the window. Times come from each user's
-- best attempt: the earliest event of their furthest step, through its shortest chain.
-- strict counts "next event" over all of the user's events (not only funnel steps).
-- dropped = users of the previous step who did not reach this one (NULL for step 1).
-- Speed: the position rn (a window sorting every event of the range) exists only in the strict
-- branch of ev, which planning drops for an ordered funnel; both time percentiles of a column
-- come from one quantile_cont over a list of fractions.
WITH RECURSIVE
-- scope:begin (the same in every business_*.sql that takes user filters; a test checks it)
scope AS (
    SELECT id AS user_id,
           created_at AS signed_up_at,
           date AS signed_up_on,
           CASE WHEN $breakdown IS NULL THEN 'all'
                ELSE COALESCE(CASE $breakdown WHEN 'device' THEN device
                                              WHEN 'country' THEN country
                                              WHEN 'plan' THEN plan
                                              WHEN 'channel' THEN acquisition_channel END, '(none)')
           END AS segment
    FROM users
    WHERE ($device IS NULL OR list_contains($device, device))
      AND ($country IS NULL OR list_contains($country, country))
      AND ($plan IS NULL OR list_contains($plan, plan))
      AND ($channel IS NULL OR list_contains($channel, acquisition_channel))
),
-- scope:end,
steps AS (
    SELECT CAST(generate_subscripts(CAST($steps AS VARCHAR[]), 1) AS INTEGER) AS step,
           unnest(CAST($steps AS VARCHAR[])) AS event_type
),
conds AS (
    SELECT CAST(unnest(CAST($filter_steps AS VARCHAR[])) AS INTEGER) AS step,
           unnest(CAST($filter_keys AS VARCHAR[])) AS key,
           unnest(CAST($filter_values AS VARCHAR[])) AS value
),
scoped_events AS (
    -- properties only when a step filter or a property breakdown reads them: not read
    -- otherwise (the JSON text is most of the scan)
    SELECT e.id, e.user_id, e.created_at AS ts, e.event_type,
           CASE WHEN $filter_keys IS NOT NULL OR $breakdown_property IS NOT NULL
                THEN e.properties END AS properties,
           sc.segment
    FROM events AS e
    JOIN scope AS sc ON sc.user_id = e.user_id
    WHERE e.created_at >= $start AND e.created_at <= $end + to_seconds($window_seconds)
      AND e.date BETWEEN CAST($start AS DATE) AND CAST($end + to_seconds($window_seconds) AS DATE)
      -- rn (the position among all of a user's events) matters only for a strict funnel; else
      -- the other event types can go before the window and the joins
      AND ($strict OR list_contains(CAST($steps AS VARCHAR[]), e.event_type))
),
ev AS (
    -- rn only for a strict funnel: the branch of the other kind is dropped when the query is
    -- planned, so an ordered funnel never sorts the events for a window it does not read
    SELECT *, CAST(NULL AS BIGINT) AS rn FROM scoped_events WHERE NOT $strict
    UNION ALL
    SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts, id) AS rn
    FROM scoped_events
    WHERE $strict
),
matched AS (
    SELECT ev.*, s.step
    FROM ev
    JOIN steps AS s ON s.event_type = ev.event_type
    WHERE NOT EXISTS (
        SELECT 1 FROM conds AS c
        WHERE c.step = s.step
          AND json_extract_string(ev.properties, '$."' || c.key || '"') IS DISTINCT FROM c.value
    )
),
chain(step, user_id, id, ts, rn, start_ts, path) AS (
    SELECT step, user_id, id, ts, rn, ts, [ts]
    FROM matched
    WHERE step = 1 AND ts >= $start AND ts < $end
    UNION ALL
    SELECT m.step, m.user_id, m.id, m.ts, m.rn, MAX(c.start_ts), list_append(arg_max(c.path, c.ts), m.ts)
    FROM chain AS c
    JOIN matched AS m
      ON m.user_id = c.user_id AND m.step = c.step + 1 AND m.ts > c.ts
     AND m.ts <= c.start_ts + to_seconds($window_seconds)
     AND (NOT $strict OR m.rn = c.rn + 1)
    GROUP BY m.step, m.user_id, m.id, m.ts, m.rn
),
reach AS (
    SELECT user_id, MAX(step) AS k FROM chain GROUP BY user_id
),
best AS (
    SELECT c.user_id, r.k, arg_min(c.path, c.ts) AS path
    FROM chain AS c
    JOIN reach AS r ON r.user_id = c.user_id AND c.step = r.k
    GROUP BY c.user_id, r.k
),
touch AS (
    SELECT user_id,
           CASE WHEN $breakdown_property IS NULL THEN arg_min(segment, ts)
                ELSE arg_min(COALESCE(json_extract_string(properties, '$."' || $breakdown_property || '"'), '(none)'), ts)
           END AS segment
    FROM matched
    WHERE step = 1 AND ts >= $start AND ts < $end
    GROUP BY user_id
),
per_user_step AS (
    SELECT t.segment, s.step,
           epoch(b.path[s.step]) - epoch(b.path[1]) AS from_first,
           CASE WHEN s.step > 1 THEN epoch(b.path[s.step]) - epoch(b.path[s.step - 1]) END AS from_previous
    FROM best AS b
    JOIN touch AS t ON t.user_id = b.user_id
    JOIN steps AS s ON s.step <= b.k
),
agg AS (
    -- both percentiles of a column from one copy of its values
    SELECT segment, step, COUNT(*) AS users,
           quantile_cont(from_previous, [0.5, 0.9]) AS seconds_from_previous,
           quantile_cont(from_first, [0.5, 0.9]) AS seconds_from_first
    FROM per_user_step
    GROUP BY segment, step
),
grid AS (
    SELECT g.segment, s.step, s.event_type AS event, COALESCE(a.users, 0) AS users,
           a.seconds_from_previous[1] AS median_seconds_from_previous,
           a.seconds_from_previous[2] AS p90_seconds_from_previous,
           a.seconds_from_first[1] AS median_seconds_from_first,
           a.seconds_from_first[2] AS p90_seconds_from_first
    FROM (SELECT DISTINCT segment FROM touch) AS g
    CROSS JOIN steps AS s
    LEFT JOIN agg AS a ON a.segment = g.segment AND a.step = s.step
),
framed AS (
    SELECT *,
           FIRST_VALUE(users) OVER (PARTITION BY segment ORDER BY step) AS first_users,
           LAG(users) OVER (PARTITION BY segment ORDER BY step) AS previous_users
    FROM grid
)
SELECT segment, step, event, users,
       CAST(users AS DOUBLE) / NULLIF(first_users, 0) AS conversion_from_first,
       CAST(users AS DOUBLE) / NULLIF(COALESCE(previous_users, users), 0) AS conversion_from_previous,
       previous_users - users AS dropped,
       CAST(previous_users - users AS DOUBLE) / NULLIF(previous_users, 0) AS drop_off_rate,
       CASE WHEN step > 1 THEN median_seconds_from_previous END AS median_seconds_from_previous,
       CASE WHEN step > 1 THEN p90_seconds_from_previous END AS p90_seconds_from_previous,
       median_seconds_from_first, p90_seconds_from_first
FROM framed
ORDER BY segment, step
