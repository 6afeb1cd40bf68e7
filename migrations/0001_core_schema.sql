-- The core schema of `release`: apps, environments, releases, CI checks, approvals, deployments,
-- freezes, occupancy (what was live when) and the audit trail.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE apps (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    -- The head of the app's audit hash chain: how many events, and the last one's hash.
    audit_sequence  bigint NOT NULL DEFAULT 0,
    audit_head      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE environments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id          bigint NOT NULL REFERENCES apps (id),
    name            text NOT NULL,
    -- The last health verdict (verification or `release probe`).
    health          text NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'healthy', 'unhealthy')),
    health_detail   text,
    health_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (app_id, name)
);

CREATE TABLE releases (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id              bigint NOT NULL REFERENCES apps (id),
    version             text NOT NULL,
    commit_sha          text,
    artifact            text,
    notes               text,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    quarantined_at      timestamptz,
    quarantine_reason   text,
    UNIQUE (app_id, version)
);
CREATE INDEX releases_newest ON releases (app_id, id DESC);

CREATE TABLE checks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id   bigint NOT NULL REFERENCES releases (id),
    name         text NOT NULL,
    status       text NOT NULL CHECK (status IN ('passed', 'failed', 'pending')),
    url          text,
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX checks_latest ON checks (release_id, name, id DESC);

CREATE TABLE approvals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment_id  bigint NOT NULL REFERENCES environments (id),
    release_id      bigint NOT NULL REFERENCES releases (id),
    approver        text NOT NULL,
    approved_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX approvals_lookup ON approvals (environment_id, release_id, approved_at);

-- The deployment state machine. The same table lives in ReleaseCore (DeploymentState); a test
-- checks that the two agree.
CREATE TABLE deployment_transitions (
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO deployment_transitions (from_state, to_state) VALUES
    ('pending', 'gating'), ('pending', 'cancelled'),
    ('gating', 'deploying'), ('gating', 'rejected'), ('gating', 'cancelled'),
    ('deploying', 'verifying'), ('deploying', 'failed'),
    ('verifying', 'live'), ('verifying', 'failed'),
    ('live', 'superseded'),
    ('failed', 'rolled_back');

CREATE TABLE deployments (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id                bigint NOT NULL REFERENCES apps (id),
    environment_id        bigint NOT NULL REFERENCES environments (id),
    release_id            bigint NOT NULL REFERENCES releases (id),
    kind                  text NOT NULL CHECK (kind IN ('deploy', 'promote', 'rollback')),
    state                 text NOT NULL CHECK (state IN ('pending', 'gating', 'deploying', 'verifying', 'live',
                                                          'superseded', 'rejected', 'cancelled', 'failed', 'rolled_back')),
    actor                 text NOT NULL,
    reason                text,
    -- Promotions: the deployment on the source environment whose artifact is promoted.
    source_deployment_id  bigint REFERENCES deployments (id),
    -- Automatic rollbacks: the failed deployment being rolled back.
    rollback_of           bigint REFERENCES deployments (id),
    -- Provider operation references, written before the engine waits on them.
    operation             jsonb NOT NULL DEFAULT '{}',
    -- What the provider reported at cutover, used to roll back to this release later.
    live_reference        jsonb NOT NULL DEFAULT '{}',
    verified              boolean NOT NULL DEFAULT false,
    detail                text,
    lease_owner           text,
    lease_expires_at      timestamptz,
    started_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    cutover_at            timestamptz,
    finished_at           timestamptz
);
-- Invariant 1: at most one deployment in flight per environment, enforced here.
CREATE UNIQUE INDEX deployments_one_in_flight ON deployments (environment_id)
    WHERE state IN ('pending', 'gating', 'deploying', 'verifying');
CREATE INDEX deployments_environment_history ON deployments (environment_id, id DESC);
CREATE INDEX deployments_app_history ON deployments (app_id, id DESC);
CREATE INDEX deployments_verified ON deployments (environment_id, release_id) WHERE verified;
CREATE INDEX deployments_in_flight_leases ON deployments (lease_expires_at)
    WHERE state IN ('pending', 'gating', 'deploying', 'verifying');

CREATE FUNCTION deployments_enforce_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'pending' THEN
            RAISE EXCEPTION 'a deployment starts in state pending, not %', NEW.state USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.app_id <> OLD.app_id OR NEW.environment_id <> OLD.environment_id OR NEW.release_id <> OLD.release_id
       OR NEW.kind <> OLD.kind OR NEW.actor <> OLD.actor OR NEW.started_at <> OLD.started_at THEN
        RAISE EXCEPTION 'deployment % cannot change what, where or who', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM deployment_transitions WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'deployment % cannot move from % to %', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER deployments_transition BEFORE INSERT OR UPDATE ON deployments
    FOR EACH ROW EXECUTE FUNCTION deployments_enforce_transition();

-- Invariant 4: what was live when. A release occupies an environment from its cutover until the
-- next cutover there; ranges never overlap in one environment.
CREATE TABLE occupancy (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment_id  bigint NOT NULL REFERENCES environments (id),
    release_id      bigint NOT NULL REFERENCES releases (id),
    deployment_id   bigint NOT NULL REFERENCES deployments (id),
    during          tstzrange NOT NULL CHECK (NOT isempty(during) AND NOT lower_inf(during)),
    EXCLUDE USING gist (environment_id WITH =, during WITH &&)
);
CREATE UNIQUE INDEX occupancy_current ON occupancy (environment_id) WHERE upper_inf(during);

CREATE TABLE freezes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment_id  bigint NOT NULL REFERENCES environments (id),
    reason          text NOT NULL,
    frozen_by       text NOT NULL,
    frozen_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    until           timestamptz,
    lifted_by       text,
    lifted_at       timestamptz
);
CREATE INDEX freezes_active ON freezes (environment_id) WHERE lifted_at IS NULL;

-- Invariant 3: the audit trail is append-only and hash-chained per app.
CREATE TABLE audit_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id         bigint NOT NULL REFERENCES apps (id),
    sequence       bigint NOT NULL,
    at             timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    environment    text,
    version        text,
    details        jsonb NOT NULL DEFAULT '{}',
    previous_hash  text,
    hash           text NOT NULL,
    UNIQUE (app_id, sequence)
);
CREATE INDEX audit_events_by_time ON audit_events (app_id, at);
CREATE INDEX audit_events_by_environment ON audit_events (app_id, environment, at);

CREATE FUNCTION audit_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN E'-\n' ELSE octet_length(value)::text || ':' || value || E'\n' END
$$;

-- Fills in sequence, time, predecessor and hash, so no client can forge or reorder the chain.
-- The text hashed is the same as AuditEvent.canonicalText in ReleaseCore.
CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    app_name   text;
    head_seq   bigint;
    head_hash  text;
BEGIN
    SELECT name, audit_sequence, audit_head INTO app_name, head_seq, head_hash
        FROM apps WHERE id = NEW.app_id FOR UPDATE;
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
CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_chain();

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on audit_events is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
