-- purpose: statement-level triggers that call auterity_lab_notify_change() on one source table,
-- one for INSERT and one for UPDATE (a trigger with a transition table takes one event)
-- grain: two triggers per table; re-installing replaces them
-- identifiers (psycopg.sql): schema, table
DROP TRIGGER IF EXISTS auterity_lab_live_insert ON {schema}.{table};
CREATE TRIGGER auterity_lab_live_insert
    AFTER INSERT ON {schema}.{table}
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION auterity_lab_notify_change();
DROP TRIGGER IF EXISTS auterity_lab_live_update ON {schema}.{table};
CREATE TRIGGER auterity_lab_live_update
    AFTER UPDATE ON {schema}.{table}
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION auterity_lab_notify_change();
