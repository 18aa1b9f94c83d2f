-- purpose: the function behind auterity-lab's live updates: after each INSERT or UPDATE statement
-- on a source table it sends one NOTIFY on channel auterity_lab_changes, whatever the row count
-- (COPY ... FROM STDIN included), so a listener learns which table changed, for which tenants
-- and which time span, and extracts just that.
-- grain: one notification per statement; payload JSON {schema, table, op, rows, tenants,
--        min_created_at, max_created_at}; tenants is null when the list would not fit the
--        8000-byte payload limit (the listener then treats every tenant as changed).
-- Installed by auterity_lab.live.install_triggers (idempotent: CREATE OR REPLACE).
CREATE OR REPLACE FUNCTION auterity_lab_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    payload jsonb;
BEGIN
    SELECT jsonb_build_object(
               'schema', TG_TABLE_SCHEMA,
               'table', TG_TABLE_NAME,
               'op', TG_OP,
               'rows', count(*),
               'tenants', COALESCE(jsonb_agg(DISTINCT tenant_id) FILTER (WHERE tenant_id IS NOT NULL),
                                   '[]'::jsonb),
               'min_created_at', min(created_at),
               'max_created_at', max(created_at))
      INTO payload
      FROM changed_rows;
    IF (payload ->> 'rows')::bigint > 0 THEN
        IF octet_length(payload::text) > 7900 THEN
            payload := jsonb_set(payload, '{tenants}', 'null'::jsonb);
        END IF;
        PERFORM pg_notify('auterity_lab_changes', payload::text);
    END IF;
    RETURN NULL;
END
$fn$;
