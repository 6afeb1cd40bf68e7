-- Identity and access, first part: who is logged in, which login is which person, the stored
-- policy, and a NOLOGIN role that owns the schema.
--
-- The login is PostgreSQL's session_user: what the connection authenticated as. Never
-- current_user (the owner inside SECURITY DEFINER functions; it follows SET ROLE), never a
-- setting a client can set. Only a superuser may SET SESSION AUTHORIZATION.
--
-- Roles (cluster-wide, created when the migrating login may create roles):
--   release_owner  NOLOGIN: owns every table and function of the schema, so that taking the
--                  table privileges away from release_operator leaves the owner's functions the
--                  only way to change anything.
--   release_admin  NOLOGIN: the people who may change the login map and the stored policy
--                  (`GRANT release_admin TO alice`). The database's owner is always an admin.

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
-- as JSON); with enforcement on, these decide.
CREATE TABLE policies (
    environment_id  bigint PRIMARY KEY REFERENCES environments (id),
    gates           jsonb NOT NULL,
    applied_by      text NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

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
    INSERT INTO public.audit_events (app_id, sequence, at, actor, action, details, hash)
    VALUES (public.release_app_id(app), 0, clock_timestamp(), admin, 'access.granted',
            jsonb_build_object('login', grantee, 'person', as_person, 'automation', is_automation,
                               'on_behalf', acts_on_behalf), '');
END
$$;

-- Removes a login's mapping (admin only); false when it had none. Audited as `access.revoked`.
CREATE FUNCTION release_access_revoke(app text, grantee text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    admin text := (SELECT w.person FROM public.release_whoami() w);
    was text;
BEGIN
    PERFORM public.release_require_admin('release access revoke');
    DELETE FROM public.access_logins WHERE login = grantee RETURNING person INTO was;
    IF was IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO public.audit_events (app_id, sequence, at, actor, action, details, hash)
    VALUES (public.release_app_id(app), 0, clock_timestamp(), admin, 'access.revoked',
            jsonb_build_object('login', grantee, 'person', was), '');
    RETURN true;
END
$$;

-- Stores the gates of the app's environments (admin only): `gates` maps each environment's name
-- to its gates block. Environments not named keep what they had. Audited as `policy.applied`
-- with what changed.
CREATE FUNCTION release_policy_apply(app text, gates jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    admin text := (SELECT w.person FROM public.release_whoami() w);
    app_key bigint := public.release_app_id(app);
    changed jsonb := '[]';
    entry record;
    env_id bigint;
BEGIN
    PERFORM public.release_require_admin('release policy apply');
    IF jsonb_typeof(gates) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'A policy is an object of environments.' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR entry IN SELECT key, value FROM jsonb_each(gates) ORDER BY key LOOP
        INSERT INTO public.environments (app_id, name) VALUES (app_key, entry.key)
        ON CONFLICT (app_id, name) DO NOTHING;
        SELECT id INTO env_id FROM public.environments WHERE app_id = app_key AND name = entry.key;
        IF NOT EXISTS (SELECT 1 FROM public.policies p WHERE p.environment_id = env_id AND p.gates = entry.value) THEN
            INSERT INTO public.policies (environment_id, gates, applied_by) VALUES (env_id, entry.value, admin)
            ON CONFLICT (environment_id) DO UPDATE SET gates = EXCLUDED.gates, applied_by = EXCLUDED.applied_by,
                applied_at = clock_timestamp();
            changed := changed || to_jsonb(entry.key);
        END IF;
    END LOOP;
    IF jsonb_array_length(changed) > 0 THEN
        INSERT INTO public.audit_events (app_id, sequence, at, actor, action, details, hash)
        VALUES (app_key, 0, clock_timestamp(), admin, 'policy.applied',
                jsonb_build_object('environments', changed, 'gates', gates), '');
    END IF;
    RETURN changed;
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

-- Functions are executable by PUBLIC unless revoked: only the two roles may call these.
REVOKE EXECUTE ON FUNCTION release_is_admin(name), release_whoami(), release_require_admin(text), release_app_id(text),
    release_access_grant(text, text, text, boolean, boolean), release_access_revoke(text, text),
    release_policy_apply(text, jsonb) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
        GRANT SELECT ON access_logins, access_enforcement, policies TO release_operator, release_auditor;
        GRANT EXECUTE ON FUNCTION release_whoami(), release_is_admin(name) TO release_operator, release_auditor;
        GRANT EXECUTE ON FUNCTION release_require_admin(text), release_app_id(text),
            release_access_grant(text, text, text, boolean, boolean), release_access_revoke(text, text),
            release_policy_apply(text, jsonb) TO release_operator;
    END IF;
END
$$;
