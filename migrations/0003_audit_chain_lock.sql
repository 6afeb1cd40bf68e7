-- Appending to an app's audit chain locked the app's row FOR UPDATE, which conflicts with the
-- FOR KEY SHARE lock every insert referencing the app takes (deployments, releases, checks…).
-- Two operations on different environments of one app, each having inserted a deployment and
-- then appending its audit event, deadlocked. The chain only changes apps' non-key columns, so
-- FOR NO KEY UPDATE serializes the chain just the same without conflicting with those inserts.
CREATE OR REPLACE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    app_name   text;
    head_seq   bigint;
    head_hash  text;
BEGIN
    SELECT name, audit_sequence, audit_head INTO app_name, head_seq, head_hash
        FROM apps WHERE id = NEW.app_id FOR NO KEY UPDATE;
    NEW.sequence := head_seq + 1;
    NEW.previous_hash := head_hash;
    NEW.at := clock_timestamp();
    NEW.hash := encode(sha256(convert_to(
        audit_field(app_name) || audit_field(NEW.sequence::text)
        || audit_field(to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audit_field(NEW.actor) || audit_field(NEW.action) || audit_field(NEW.environment)
        || audit_field(NEW.version) || audit_field(NEW.details::text) || audit_field(NEW.previous_hash),
        'UTF8')), 'hex');
    UPDATE apps SET audit_sequence = NEW.sequence, audit_head = NEW.hash WHERE id = NEW.app_id;
    RETURN NEW;
END
$$;
