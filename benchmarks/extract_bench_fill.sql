-- purpose: synthetic rows for benchmarks/extract_bench.py: performance_metrics numbered first..last,
-- per_day rows a day from 2026-07-01 (5M rows: 120 day partitions), three tenants.
-- params (psycopg): first, last, per_day
INSERT INTO performance_metrics (id, tenant_id, service, endpoint, method, response_time_ms,
                                 status_code, user_agent, ip_address, user_id, error_message, created_at)
SELECT gen_random_uuid(),
       (ARRAY['acme', 'globex', 'initech'])[1 + mod(i, 3)],
       (ARRAY['auterity-api', 'neuroweaver-api', 'relaycore-api'])[1 + mod(i, 3)],
       '/api/v1/' || (ARRAY['sessions', 'events', 'runs', 'models'])[1 + mod(i, 4)],
       (ARRAY['GET', 'POST'])[1 + mod(i, 2)],
       (random() * 800)::int,
       (ARRAY[200, 200, 200, 201, 404, 500])[1 + mod(i, 6)],
       'Mozilla/5.0 (X11; Linux x86_64) bench/' || mod(i, 50),
       '10.' || mod(i, 256) || '.' || mod(i / 256, 256) || '.' || mod(i, 7),
       gen_random_uuid(),
       CASE WHEN mod(i, 50) = 0 THEN 'upstream timeout after 30 s' END,
       timestamptz '2026-07-01 00:00:00+00'
           + (i::double precision / %(per_day)s) * interval '1 day'
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
