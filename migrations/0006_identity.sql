-- Identity and access enforced by the database.
--
-- The login is PostgreSQL's session_user: what the connection authenticated as. Never
-- current_user (the owner inside SECURITY DEFINER functions; it follows SET ROLE), never a
-- setting a client can set. Only a superuser may SET SESSION AUTHORIZATION.
--
-- Every change a command makes goes through a function owned by release_owner (SECURITY
-- DEFINER, pinned search_path), so that once `release access enforce` has taken the table
-- privileges away from release_operator, these functions are the only way to change anything,
-- and they check the rules themselves:
--   * the actor recorded is the person the login maps to, never a claim; a claimed name is kept
--     beside it as on_behalf_of, and only from an automation login granted on_behalf;
--   * `allowed:` is judged on that person; approvals count distinct verified persons, never the
--     one deploying, never the person a CI run acts for, never an automation login;
--   * a quarantined release is never deployed, and only release_admin lifts a quarantine;
--   * only release_admin changes the login map and the stored policy (even before enforcement).
-- Before enforcement the functions record what the client claims, exactly as before, and `login`
-- stays NULL: a row with a login was recorded under verified identity.
--
-- Roles (cluster-wide, created when the migrating login may create roles):
--   release_owner  NOLOGIN: owns every table and function of the schema.
--   release_admin  NOLOGIN: the people who may change the login map and the stored policy and
--                  lift quarantines (`GRANT release_admin TO alice`). The database's owner is
--                  always an admin.

DO $$
DECLARE
    may_create boolean;
    role_name text;
BEGIN
    SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles WHERE rolname = session_user;
    FOREACH role_name IN ARRAY ARRAY['release_owner', 'release_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            IF NOT may_create THEN
                RAISE NOTICE 'release: % may not create roles; % was not created', session_user, role_name;
                CONTINUE;
            END IF;
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- another database of this cluster created it at the same moment
            END;
        END IF;
    END LOOP;
END
$$;

-- The functions below run as their owner with a pinned search_path (pg_catalog, public, then
-- pg_temp last, so a temporary table cannot shadow a real one); nobody but the owner creates
-- objects in public, so nobody can shadow a table or a function there either (PostgreSQL 15
-- already revokes this from PUBLIC on new databases).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Which login is which person. A login absent here is the person of its own name. An automation
-- login (CI) may name the person it acts for only when granted on_behalf.
CREATE TABLE access_logins (
    login       text PRIMARY KEY,
    person      text NOT NULL,
    automation  boolean NOT NULL DEFAULT false,
    on_behalf   boolean NOT NULL DEFAULT false CHECK (automation OR NOT on_behalf),
    granted_by  text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row once `release access enforce` has run: from then on the database checks identity.
CREATE TABLE access_enforcement (
    enforced     boolean PRIMARY KEY DEFAULT true CHECK (enforced),
    enforced_by  text NOT NULL,
    enforced_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The gates of each environment as `release policy apply` stored them (release.yml's gates block
-- as JSON), and the environment it takes promotions from (NULL: it takes deploys); with
-- enforcement on, these decide.
CREATE TABLE policies (
    environment_id  bigint PRIMARY KEY REFERENCES environments (id),
    gates           jsonb NOT NULL,
    promote_from    text,
    applied_by      text NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Who recorded each row: the verified login (NULL when identity was only claimed) and the
-- person a CI run acted for.
ALTER TABLE deployments ADD COLUMN login text, ADD COLUMN on_behalf_of text;
ALTER TABLE approvals ADD COLUMN login text, ADD COLUMN on_behalf_of text,
    ADD COLUMN automation boolean NOT NULL DEFAULT false;
ALTER TABLE checks ADD COLUMN login text, ADD COLUMN on_behalf_of text;
ALTER TABLE releases ADD COLUMN login text, ADD COLUMN on_behalf_of text;
ALTER TABLE freezes ADD COLUMN login text, ADD COLUMN on_behalf_of text;
ALTER TABLE audit_events ADD COLUMN login text, ADD COLUMN on_behalf_of text;

-- Whether the login may change the login map and the policy: a member of release_admin, the
-- database's owner, or a superuser.
CREATE FUNCTION release_is_admin(login name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_has_role(login, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'MEMBER')
        OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_admin') AND pg_has_role(login, 'release_admin', 'MEMBER'))
$$;

-- Who the connection is: its login, the person it maps to, whether it is an automation login,
-- whether it may act for others, whether it is an admin, and whether identity is enforced.
CREATE FUNCTION release_whoami()
RETURNS TABLE (login text, person text, automation boolean, on_behalf boolean, admin boolean, enforced boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT session_user::text, coalesce(m.person, session_user::text), coalesce(m.automation, false),
           coalesce(m.on_behalf, false), public.release_is_admin(session_user),
           EXISTS (SELECT 1 FROM public.access_enforcement)
    FROM (SELECT 1) AS one LEFT JOIN public.access_logins m ON m.login = session_user::text
$$;

-- Refuses unless the session's login is an admin; `what` names the change in the message.
CREATE FUNCTION release_require_admin(what text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NOT public.release_is_admin(session_user) THEN
        -- SQLSTATE RA001: refused by access rules (exit 3), with what to do in the message.
        RAISE EXCEPTION '% needs the release_admin role, which login % does not have. Ask an administrator to run it, or to '
            'GRANT release_admin TO %.', what, session_user, quote_ident(session_user) USING ERRCODE = 'RA001';
    END IF;
END
$$;

-- The app's id, creating the app on first use.
CREATE FUNCTION release_app_id(app text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    found bigint;
BEGIN
    INSERT INTO public.apps (name) VALUES (app) ON CONFLICT (name) DO NOTHING RETURNING id INTO found;
    IF found IS NULL THEN
        SELECT id INTO found FROM public.apps WHERE name = app;
    END IF;
    RETURN found;
END
$$;

-- Appends an event for a change only an admin may make, under the admin's person and login,
-- which the database checked whether or not identity is enforced.
CREATE FUNCTION release_audit_admin_change(app bigint, action text, details jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.audit_events (app_id, sequence, at, actor, action, details, hash, login)
    SELECT app, 0, clock_timestamp(), w.person, action, details, '', w.login FROM public.release_whoami() w
$$;

-- Maps a login to a person (admin only), audited in the app's chain as `access.granted`.
CREATE FUNCTION release_access_grant(app text, grantee text, as_person text, is_automation boolean, acts_on_behalf boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    admin text := (SELECT w.person FROM public.release_whoami() w);
BEGIN
    PERFORM public.release_require_admin('release access grant');
    IF acts_on_behalf AND NOT is_automation THEN
        RAISE EXCEPTION 'Only an automation login may act on behalf of others: add --automation, or drop --on-behalf.'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO public.access_logins (login, person, automation, on_behalf, granted_by)
    VALUES (grantee, as_person, is_automation, acts_on_behalf, admin)
    ON CONFLICT (login) DO UPDATE SET person = EXCLUDED.person, automation = EXCLUDED.automation,
        on_behalf = EXCLUDED.on_behalf, granted_by = EXCLUDED.granted_by, granted_at = clock_timestamp();
    PERFORM public.release_audit_admin_change(public.release_app_id(app), 'access.granted',
        jsonb_build_object('login', grantee, 'person', as_person, 'automation', is_automation, 'on_behalf', acts_on_behalf));
END
$$;

-- Removes a login's mapping (admin only); false when it had none. Audited as `access.revoked`.
CREATE FUNCTION release_access_revoke(app text, grantee text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    was text;
BEGIN
    PERFORM public.release_require_admin('release access revoke');
    DELETE FROM public.access_logins WHERE login = grantee RETURNING person INTO was;
    IF was IS NULL THEN
        RETURN false;
    END IF;
    PERFORM public.release_audit_admin_change(public.release_app_id(app), 'access.revoked',
        jsonb_build_object('login', grantee, 'person', was));
    RETURN true;
END
$$;

-- Stores the policy of the app's environments (admin only): `policy` maps each environment's
-- name to {"gates": its gates block, "promote_from": its source or null}. Environments not named
-- keep what they had. Audited as `policy.applied` with what changed.
CREATE FUNCTION release_policy_apply(app text, policy jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    admin text := (SELECT w.person FROM public.release_whoami() w);
    app_key bigint := public.release_app_id(app);
    changed jsonb := '[]';
    entry record;
    env_id bigint;
BEGIN
    PERFORM public.release_require_admin('release policy apply');
    IF jsonb_typeof(policy) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'A policy is an object of environments.' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR entry IN SELECT key, value FROM jsonb_each(policy) ORDER BY key LOOP
        env_id := public.release_environment_id(app_key, entry.key);
        IF NOT EXISTS (SELECT 1 FROM public.policies p WHERE p.environment_id = env_id AND p.gates = entry.value->'gates'
                       AND p.promote_from IS NOT DISTINCT FROM entry.value->>'promote_from') THEN
            INSERT INTO public.policies (environment_id, gates, promote_from, applied_by)
            VALUES (env_id, entry.value->'gates', entry.value->>'promote_from', admin)
            ON CONFLICT (environment_id) DO UPDATE SET gates = EXCLUDED.gates, promote_from = EXCLUDED.promote_from,
                applied_by = EXCLUDED.applied_by, applied_at = clock_timestamp();
            changed := changed || to_jsonb(entry.key);
        END IF;
    END LOOP;
    IF jsonb_array_length(changed) > 0 THEN
        PERFORM public.release_audit_admin_change(app_key, 'policy.applied',
            jsonb_build_object('environments', changed, 'policy', policy));
    END IF;
    RETURN changed;
END
$$;

-- The audit chain covers the login and on_behalf_of of events recorded under verified identity;
-- an event without a login hashes exactly as before (AuditEvent.canonicalText builds the same).
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
        || audit_field(NEW.version) || audit_field(NEW.details::text) || audit_field(NEW.previous_hash)
        || CASE WHEN NEW.login IS NULL THEN '' ELSE audit_field(NEW.login) || audit_field(NEW.on_behalf_of) END,
        'UTF8')), 'hex');
    UPDATE apps SET audit_sequence = NEW.sequence, audit_head = NEW.hash WHERE id = NEW.app_id;
    RETURN NEW;
END
$$;

-- Who is acting: the actor to record, the login (NULL before enforcement) and on_behalf_of.
-- `claimed` is the name the client gave (--actor, RELEASE_ACTOR, GITHUB_ACTOR), or NULL.
CREATE FUNCTION release_act(claimed text, OUT actor text, OUT login text, OUT on_behalf_of text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    me record;
BEGIN
    SELECT * INTO me FROM public.release_whoami();
    claimed := nullif(claimed, '');
    IF NOT me.enforced THEN
        actor := coalesce(claimed, me.login);
        RETURN;
    END IF;
    actor := me.person;
    login := me.login;
    IF claimed IS NULL OR claimed = me.person OR claimed = me.login THEN
        RETURN;
    END IF;
    IF me.automation AND me.on_behalf THEN
        on_behalf_of := claimed;
        RETURN;
    END IF;
    IF me.automation THEN
        RAISE EXCEPTION 'Login % (%) may not act on behalf of %: identity is enforced. Ask an admin to run `release access grant % '
            '--as % --automation --on-behalf`, or unset --actor, RELEASE_ACTOR and GITHUB_ACTOR.',
            me.login, me.person, claimed, me.login, me.person USING ERRCODE = 'RA001';
    END IF;
    RAISE EXCEPTION 'Login % is %, not %: identity is enforced, so the database records who logged in. Drop --actor and '
        'RELEASE_ACTOR, or log in as %.', me.login, me.person, claimed, claimed USING ERRCODE = 'RA001';
END
$$;

-- An environment's id, registering it on first use.
CREATE FUNCTION release_environment_id(app bigint, environment text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    found bigint;
BEGIN
    INSERT INTO public.environments (app_id, name) VALUES (app, environment) ON CONFLICT (app_id, name) DO NOTHING
        RETURNING id INTO found;
    IF found IS NULL THEN
        SELECT id INTO found FROM public.environments WHERE app_id = app AND name = environment;
    END IF;
    RETURN found;
END
$$;

-- The app and one or two of its environments, registered on first use.
CREATE FUNCTION release_ensure(app text, first_environment text, second_environment text,
    OUT app_id bigint, OUT first_id bigint, OUT second_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    app_id := public.release_app_id(app);
    first_id := public.release_environment_id(app_id, first_environment);
    IF second_environment IS NOT NULL THEN
        second_id := public.release_environment_id(app_id, second_environment);
    END IF;
END
$$;

CREATE FUNCTION release_record_health(environment bigint, healthy boolean, detail text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.environments SET health = CASE WHEN healthy THEN 'healthy' ELSE 'unhealthy' END, health_detail = detail,
           health_at = clock_timestamp(),
           recovered_at = CASE WHEN healthy AND health = 'unhealthy' THEN clock_timestamp() ELSE recovered_at END
    WHERE id = environment
$$;

CREATE FUNCTION release_append_audit(app bigint, claimed text, action text, environment text, version text, details jsonb)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.audit_events (app_id, sequence, at, actor, action, environment, version, details, hash, login, on_behalf_of)
    SELECT app, 0, clock_timestamp(), who.actor, action, environment, version, details, '', who.login, who.on_behalf_of
    FROM public.release_act(claimed) who
$$;

-- Refuses (RA001) what the stored policy does not let `actor` do; called with enforcement on.
CREATE FUNCTION release_check_access(environment bigint, release bigint, kind text, actor text, on_behalf_of text,
    source_deployment bigint) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    gates jsonb := coalesce((SELECT p.gates FROM public.policies p WHERE p.environment_id = environment), '{}');
    source_name text := (SELECT p.promote_from FROM public.policies p WHERE p.environment_id = environment);
    env_name text := (SELECT name FROM public.environments WHERE id = environment);
    version text := (SELECT r.version FROM public.releases r WHERE r.id = release);
    needed integer := coalesce((gates->>'approvals')::integer, 0);
    since timestamptz;
    counted integer;
BEGIN
    IF jsonb_typeof(gates->'allowed') = 'array' AND NOT (gates->'allowed') ? actor THEN
        RAISE EXCEPTION '% may not operate on %; allowed: %.', actor, env_name,
            (SELECT string_agg(value, ', ') FROM jsonb_array_elements_text(gates->'allowed')) USING ERRCODE = 'RA001';
    END IF;
    IF EXISTS (SELECT 1 FROM public.releases r WHERE r.id = release AND r.quarantined_at IS NOT NULL) THEN
        RAISE EXCEPTION '% is quarantined and can never be deployed again; only release_admin lifts that with '
            '`release unquarantine`.', version USING ERRCODE = 'RA001';
    END IF;
    IF kind = 'rollback' THEN
        IF NOT EXISTS (SELECT 1 FROM public.deployments d WHERE d.environment_id = environment AND d.release_id = release
                       AND d.verified) THEN
            RAISE EXCEPTION '% was never verified live on %, so it is no known-good state to roll back to.', version, env_name
                USING ERRCODE = 'RA001';
        END IF;
        RETURN;
    END IF;
    IF kind = 'deploy' AND source_name IS NOT NULL THEN
        RAISE EXCEPTION '% takes releases only by promotion from %: run `release promote % %`.', env_name, source_name,
            source_name, env_name USING ERRCODE = 'RA001';
    END IF;
    IF kind = 'promote' THEN
        SELECT d.cutover_at INTO since FROM public.deployments d JOIN public.environments e ON e.id = d.environment_id
        WHERE d.id = source_deployment AND d.release_id = release AND d.verified AND d.state = 'live'
          AND (source_name IS NULL OR e.name = source_name);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'A promotion of % to % needs the deployment that serves it, verified, on %.', version, env_name,
                coalesce(source_name, 'the source environment') USING ERRCODE = 'RA001';
        END IF;
    END IF;
    IF needed > 0 THEN
        SELECT count(DISTINCT a.approver) INTO counted FROM public.approvals a
        WHERE a.environment_id = environment AND a.release_id = release AND a.login IS NOT NULL AND NOT a.automation
          AND a.approver <> actor AND a.approver IS DISTINCT FROM release_check_access.on_behalf_of
          AND (since IS NULL OR a.approved_at >= since);
        IF counted < needed THEN
            RAISE EXCEPTION 'approvals: % of % for % on %, counting verified persons other than %.', counted, needed, version,
                env_name, actor || coalesce(' and ' || release_check_access.on_behalf_of, '')
                USING ERRCODE = 'RA001';
        END IF;
    END IF;
END
$$;

-- Starts a deployment in `pending`; NULL when the environment already has one in flight (the
-- partial unique index decides). A refused one is recorded too (pending, gating, rejected).
CREATE FUNCTION release_insert_deployment(app bigint, environment bigint, release bigint, kind text, claimed text, reason text,
    source_deployment bigint, rollback_of bigint) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.deployments (app_id, environment_id, release_id, kind, state, actor, reason, source_deployment_id,
                                    rollback_of, login, on_behalf_of)
    SELECT app, environment, release, kind, 'pending', who.actor, reason, source_deployment, rollback_of, who.login,
           who.on_behalf_of
    FROM public.release_act(claimed) who
    ON CONFLICT (environment_id) WHERE state IN ('pending', 'gating', 'deploying', 'verifying') DO NOTHING
    RETURNING id
$$;

-- Moves a deployment to `state` (the transition table decides which moves exist). Passing its
-- gates (gating to deploying) is where, with enforcement on, the stored policy is checked
-- against the person who started it.
CREATE FUNCTION release_transition(deployment bigint, state text, detail text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    started record;
    in_flight boolean := release_transition.state IN ('pending', 'gating', 'deploying', 'verifying');
BEGIN
    IF release_transition.state = 'deploying' AND EXISTS (SELECT 1 FROM public.access_enforcement) THEN
        SELECT d.environment_id, d.release_id, d.kind, d.actor, d.on_behalf_of, d.source_deployment_id INTO started
        FROM public.deployments d WHERE d.id = deployment AND d.state = 'gating';
        IF FOUND THEN
            PERFORM public.release_check_access(started.environment_id, started.release_id, started.kind, started.actor,
                                                started.on_behalf_of, started.source_deployment_id);
        END IF;
    END IF;
    UPDATE public.deployments d SET state = release_transition.state, detail = coalesce(release_transition.detail, d.detail),
           finished_at = CASE WHEN in_flight THEN d.finished_at ELSE coalesce(d.finished_at, clock_timestamp()) END,
           lease_owner = CASE WHEN in_flight THEN d.lease_owner END,
           lease_expires_at = CASE WHEN in_flight THEN d.lease_expires_at END
    WHERE d.id = deployment;
END
$$;

CREATE FUNCTION release_mark_rolled_back(deployment bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.deployments SET state = 'rolled_back' WHERE id = deployment AND state = 'failed'
$$;

CREATE FUNCTION release_annotate(deployment bigint, detail text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.deployments d SET detail = release_annotate.detail WHERE d.id = deployment
$$;

CREATE FUNCTION release_take_lease(deployment bigint, owner text, seconds integer) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.deployments SET lease_owner = owner, lease_expires_at = clock_timestamp() + make_interval(secs => seconds)
    WHERE id = deployment
$$;

-- Extends a lease still held by `owner`; false when another run took over.
CREATE FUNCTION release_heartbeat(deployment bigint, owner text, seconds integer) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH extended AS (
        UPDATE public.deployments SET lease_expires_at = clock_timestamp() + make_interval(secs => seconds)
        WHERE id = deployment AND lease_owner = owner AND state IN ('pending', 'gating', 'deploying', 'verifying')
        RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM extended)
$$;

-- Takes over an in-flight deployment whose lease expired or whose owner is dead; false when
-- another run holds a live lease.
CREATE FUNCTION release_take_over_lease(deployment bigint, previous_owner text, owner text, seconds integer, owner_is_dead boolean)
RETURNS boolean LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH taken AS (
        UPDATE public.deployments SET lease_owner = owner, lease_expires_at = clock_timestamp() + make_interval(secs => seconds)
        WHERE id = deployment AND state IN ('pending', 'gating', 'deploying', 'verifying')
          AND lease_owner IS NOT DISTINCT FROM previous_owner
          AND (owner_is_dead OR lease_expires_at IS NULL OR lease_expires_at < clock_timestamp())
        RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM taken)
$$;

-- Locks the deployment's row for the rest of the transaction and tells whether `owner` holds its lease.
CREATE FUNCTION release_holds_lease(deployment bigint, owner text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM public.deployments WHERE id = deployment AND lease_owner = owner FOR UPDATE)
$$;

CREATE FUNCTION release_record_operation(deployment bigint, reference jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.deployments SET operation = operation || reference WHERE id = deployment
$$;

-- Cutover: closes the previous release's occupancy and opens this one's at the same instant,
-- supersedes the previous live deployment, and moves this one to `verifying`. Returns the instant.
CREATE FUNCTION release_cutover(deployment bigint, environment bigint, release bigint, live_reference jsonb)
RETURNS timestamptz LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    instant timestamptz := clock_timestamp();
BEGIN
    WITH closed AS (
        UPDATE public.occupancy SET during = tstzrange(lower(during), instant, '[)')
        WHERE environment_id = environment AND upper_inf(during)
        RETURNING deployment_id
    )
    UPDATE public.deployments SET state = 'superseded', finished_at = coalesce(finished_at, instant)
    WHERE id IN (SELECT deployment_id FROM closed) AND state = 'live';
    INSERT INTO public.occupancy (environment_id, release_id, deployment_id, during)
    VALUES (environment, release, deployment, tstzrange(instant, NULL, '[)'));
    UPDATE public.deployments d SET state = 'verifying', cutover_at = instant, live_reference = release_cutover.live_reference
    WHERE d.id = deployment;
    RETURN instant;
END
$$;

CREATE FUNCTION release_mark_verified(deployment bigint, detail text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.deployments d SET state = 'live', verified = true, detail = release_mark_verified.detail,
           finished_at = clock_timestamp(), lease_owner = NULL, lease_expires_at = NULL
    WHERE d.id = deployment
$$;

CREATE FUNCTION release_insert_freeze(environment bigint, reason text, until timestamptz, claimed text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.freezes (environment_id, reason, frozen_by, until, login, on_behalf_of)
    SELECT environment, reason, who.actor, until, who.login, who.on_behalf_of FROM public.release_act(claimed) who
$$;

-- Lifts every active ad-hoc freeze of the environment; returns how many were active.
CREATE FUNCTION release_lift_freezes(environment bigint, claimed text) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH lifted AS (
        UPDATE public.freezes SET lifted_by = (SELECT actor FROM public.release_act(claimed)), lifted_at = clock_timestamp()
        WHERE environment_id = environment AND lifted_at IS NULL AND (until IS NULL OR until > clock_timestamp())
        RETURNING id
    )
    SELECT count(*)::integer FROM lifted
$$;

-- Registers a release and returns it; a version registered already is a unique violation.
CREATE FUNCTION release_insert_release(app bigint, version text, commit_sha text, artifact text, notes text, claimed text)
RETURNS public.releases LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.releases (app_id, version, commit_sha, artifact, notes, created_by, login, on_behalf_of)
    SELECT app, version, commit_sha, artifact, notes, who.actor, who.login, who.on_behalf_of FROM public.release_act(claimed) who
    RETURNING *
$$;

CREATE FUNCTION release_quarantine(release bigint, reason text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.releases SET quarantined_at = clock_timestamp(), quarantine_reason = reason
    WHERE id = release AND quarantined_at IS NULL
$$;

-- Lifts a quarantine (admin only); false when the release was not quarantined.
CREATE FUNCTION release_unquarantine(release bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM public.release_require_admin('release unquarantine');
    UPDATE public.releases SET quarantined_at = NULL, quarantine_reason = NULL WHERE id = release AND quarantined_at IS NOT NULL;
    RETURN FOUND;
END
$$;

CREATE FUNCTION release_insert_check(release bigint, name text, status text, url text, claimed text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.checks (release_id, name, status, url, recorded_by, login, on_behalf_of)
    SELECT release, name, status, url, who.actor, who.login, who.on_behalf_of FROM public.release_act(claimed) who
$$;

-- Records an approval. With enforcement on, an automation login's approval is refused: it
-- would never count.
CREATE FUNCTION release_insert_approval(environment bigint, release bigint, claimed text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    who record;
    automation boolean := (SELECT w.automation FROM public.release_whoami() w);
BEGIN
    SELECT * INTO who FROM public.release_act(claimed);
    IF who.login IS NOT NULL AND automation THEN
        RAISE EXCEPTION 'Login % is an automation login: its approvals never count. A person approves, logged in as themself.',
            who.login USING ERRCODE = 'RA001';
    END IF;
    INSERT INTO public.approvals (environment_id, release_id, approver, login, on_behalf_of, automation)
    VALUES (environment, release, who.actor, who.login, who.on_behalf_of, coalesce(automation AND who.login IS NOT NULL, false));
END
$$;

-- Switches enforcement on, once (admin only): maps this login to `owner_person` when it is not
-- mapped yet (the name it used before), stores `policy` (as release_policy_apply takes it) for
-- environments that have no stored policy, and takes every write privilege on every table away from the two roles; row-level
-- security with read-only policies is a second wall. Returns false when it was already on.
CREATE FUNCTION release_access_enforce(app text, owner_person text, policy jsonb) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    app_key bigint := public.release_app_id(app);
    entry record;
    env_id bigint;
    roles text;
    table_name text;
BEGIN
    PERFORM public.release_require_admin('release access enforce');
    LOCK TABLE public.access_enforcement IN EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM public.access_enforcement) THEN
        RETURN false;
    END IF;
    INSERT INTO public.access_logins (login, person, granted_by) VALUES (session_user, owner_person, owner_person)
    ON CONFLICT (login) DO NOTHING;
    FOR entry IN SELECT key, value FROM jsonb_each(policy) LOOP
        env_id := public.release_environment_id(app_key, entry.key);
        INSERT INTO public.policies (environment_id, gates, promote_from, applied_by)
        VALUES (env_id, entry.value->'gates', entry.value->>'promote_from', owner_person)
        ON CONFLICT (environment_id) DO NOTHING;
    END LOOP;
    SELECT string_agg(quote_ident(rolname), ', ') INTO roles FROM pg_roles
    WHERE rolname IN ('release_operator', 'release_auditor');
    FOR table_name IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
    LOOP
        IF roles IS NOT NULL THEN
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.%I FROM %s', table_name, roles);
        END IF;
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', table_name);
        EXECUTE format('CREATE POLICY release_read ON public.%I FOR SELECT USING (true)', table_name);
    END LOOP;
    IF roles IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %s', roles);
    END IF;
    INSERT INTO public.access_enforcement (enforced_by) VALUES (owner_person);
    PERFORM public.release_audit_admin_change(app_key, 'access.enforced', jsonb_build_object('login', session_user::text));
    RETURN true;
END
$$;

-- Everything the schema holds belongs to release_owner, when the role exists and this login may
-- give it away; the functions above then run as that role, whoever calls them.
DO $$
DECLARE
    object record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_owner') THEN
        RAISE NOTICE 'release: release_owner does not exist; the schema stays owned by %', session_user;
        RETURN;
    END IF;
    IF NOT pg_has_role(session_user, 'release_owner', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT release_owner TO %I', session_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'release: % may not join release_owner; the schema stays owned by %', session_user, session_user;
            RETURN;
        END;
    END IF;
    BEGIN
        -- A new owner needs CREATE on the schema; the database's owner may give it.
        GRANT USAGE, CREATE ON SCHEMA public TO release_owner;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'release: % may not let release_owner create in schema public; the schema stays owned by %',
            session_user, session_user;
        RETURN;
    END;
    FOR object IN
        SELECT c.relname AS name, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S')
          AND pg_get_userbyid(c.relowner) = session_user
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i') AND c.relkind = 'S')
    LOOP
        EXECUTE format('ALTER %s public.%I OWNER TO release_owner', object.kind, object.name);
    END LOOP;
    FOR object IN
        SELECT p.oid::regprocedure AS signature
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = session_user
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO release_owner', object.signature);
    END LOOP;
END
$$;

-- Callable only by the two roles (functions are executable by PUBLIC unless revoked).
DO $$
DECLARE
    signature regprocedure;
BEGIN
    FOR signature IN
        SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname LIKE 'release\_%' AND p.prosecdef
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', signature);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO release_operator', signature);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_auditor') THEN
        GRANT SELECT ON access_logins, access_enforcement, policies TO release_operator, release_auditor;
        GRANT EXECUTE ON FUNCTION release_whoami(), release_is_admin(name) TO release_auditor;
    END IF;
END
$$;
