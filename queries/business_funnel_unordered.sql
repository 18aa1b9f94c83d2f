-- purpose: unordered conversion funnel: how many users complete 1, 2, ... N of the steps, in any order, within a conversion window
-- grain: one row per (segment, step) where step k means "k of the N steps done", for each segment with an entry
-- param: start TIMESTAMPTZ               inclusive start (UTC): users enter with any step's event in [start, end)
-- param: end TIMESTAMPTZ                 exclusive end (UTC) of the entries; later steps may fall after it
-- param: steps VARCHAR[]                 event_type of each step (repeats: that many distinct events are needed)
-- param: filter_steps VARCHAR[] = NULL   property filters, as three parallel lists: step number (1-based),
-- param: filter_keys VARCHAR[] = NULL    top-level key of events.properties,
-- param: filter_values VARCHAR[] = NULL  and the value it must equal (as text); all filters of a step must hold
-- param: window_seconds INTEGER = 1209600  conversion window: every step within this many seconds of the entry (inclusive)
-- param: breakdown_property VARCHAR = NULL  segment users by this property of their first funnel event in the range (first touch); overrides breakdown
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
-- Every funnel event in the range is a possible entry; its window runs from its time to
-- window_seconds later (inclusive). A step whose definition (event and filters) appears r times
-- needs r distinct matching events in the window. One event fills at most one step: when two
-- different step definitions match the same event it is counted once (never over-counts). A user
-- counts once, with the entry completing the most steps (the earliest such entry); times are
-- from that entry to the k-th completed step, and between the (k-1)-th and k-th.
WITH
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
defs AS (
    SELECT s.step,
           s.event_type || chr(31) || COALESCE((
               SELECT string_agg(c.key || chr(30) || c.value, chr(29) ORDER BY c.key, c.value)
               FROM conds AS c WHERE c.step = s.step), '') AS def
    FROM steps AS s
),
ranked AS (
    SELECT step, def, ROW_NUMBER() OVER (PARTITION BY def ORDER BY step) AS r FROM defs
),
ev AS (
    -- properties only when a step filter or a property breakdown reads them
    SELECT e.id, e.user_id, e.created_at AS ts, e.event_type,
           CASE WHEN $filter_keys IS NOT NULL OR $breakdown_property IS NOT NULL
                THEN e.properties END AS properties,
           sc.segment
    FROM events AS e
    JOIN scope AS sc ON sc.user_id = e.user_id
    WHERE e.created_at >= $start AND e.created_at <= $end + to_seconds($window_seconds)
      AND e.date BETWEEN CAST($start AS DATE) AND CAST($end + to_seconds($window_seconds) AS DATE)
),
matched AS (
    SELECT DISTINCT ev.id, ev.user_id, ev.ts, ev.properties, ev.segment, d.def
    FROM ev
    JOIN steps AS s ON s.event_type = ev.event_type
    JOIN defs AS d ON d.step = s.step
    WHERE NOT EXISTS (
        SELECT 1 FROM conds AS c
        WHERE c.step = s.step
          AND json_extract_string(ev.properties, '$."' || c.key || '"') IS DISTINCT FROM c.value
    )
),
anchors AS (
    SELECT DISTINCT user_id, id, ts FROM matched WHERE ts >= $start AND ts < $end
),
in_window AS (
    SELECT a.user_id, a.id AS anchor_id, a.ts AS anchor_ts, m.id, m.ts, m.def,
           ROW_NUMBER() OVER (PARTITION BY a.id, m.def ORDER BY m.ts, m.id) AS r
    FROM anchors AS a
    JOIN matched AS m
      ON m.user_id = a.user_id AND m.ts >= a.ts AND m.ts <= a.ts + to_seconds($window_seconds)
),
filled AS (
    SELECT DISTINCT w.user_id, w.anchor_id, w.anchor_ts, w.id, w.ts
    FROM in_window AS w
    JOIN ranked AS k ON k.def = w.def AND k.r = w.r
),
per_anchor AS (
    SELECT user_id, anchor_id, anchor_ts, COUNT(*) AS k, list_sort(list(ts)) AS path
    FROM filled
    GROUP BY user_id, anchor_id, anchor_ts
),
reach AS (
    SELECT user_id, MAX(k) AS k FROM per_anchor GROUP BY user_id
),
best AS (
    SELECT p.user_id, r.k, arg_min(p.path, p.anchor_ts) AS path
    FROM per_anchor AS p
    JOIN reach AS r ON r.user_id = p.user_id AND p.k = r.k
    GROUP BY p.user_id, r.k
),
touch AS (
    SELECT user_id,
           CASE WHEN $breakdown_property IS NULL THEN arg_min(segment, ts)
                ELSE arg_min(COALESCE(json_extract_string(properties, '$."' || $breakdown_property || '"'), '(none)'), ts)
           END AS segment
    FROM matched
    WHERE ts >= $start AND ts < $end
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
    SELECT segment, step, COUNT(*) AS users,
           quantile_cont(from_previous, 0.5) AS median_seconds_from_previous,
           quantile_cont(from_previous, 0.9) AS p90_seconds_from_previous,
           quantile_cont(from_first, 0.5) AS median_seconds_from_first,
           quantile_cont(from_first, 0.9) AS p90_seconds_from_first
    FROM per_user_step
    GROUP BY segment, step
),
grid AS (
    SELECT g.segment, s.step,
           'any ' || CAST(s.step AS VARCHAR) || ' of ' || CAST((SELECT COUNT(*) FROM steps) AS VARCHAR) AS event,
           COALESCE(a.users, 0) AS users,
           a.median_seconds_from_previous, a.p90_seconds_from_previous,
           a.median_seconds_from_first, a.p90_seconds_from_first
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
