-- Commands that change one thing, each one call: the lookups they made first (the app, the
-- release by version) happen inside the function, and what they refuse is an error there, with
-- the message the client shows. Each is one round trip, the schema check travelling with it.

-- The release `version` of `app`, or 22023 (usage, exit 2) saying how to find or make it.
CREATE FUNCTION release_require_release(app text, version text) RETURNS public.releases
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    target public.releases;
BEGIN
    SELECT r.* INTO target FROM public.releases r JOIN public.apps a ON a.id = r.app_id
    WHERE a.name = release_require_release.app AND r.version = release_require_release.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Unknown version ''%'' of %. Run `release list` to see the registered ones, or `release create %`.',
            version, app, version USING ERRCODE = '22023';
    END IF;
    RETURN target;
END
$$;

-- `release create`: registers the release (and its migrations, when recorded) with its audit
-- events, registering the app on first use; `created` is false, and nothing is written, when the
-- version exists (the client compares it with what was asked).
CREATE FUNCTION release_create(app text, version text, commit_sha text, artifact text, notes text, claimed text, details jsonb,
    migrations text[], paths text[], classes text[], reversibles boolean[], reasons text[], migrations_details jsonb,
    OUT created boolean, OUT release public.releases)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    the_app bigint := public.release_app_id(app);
BEGIN
    SELECT r.* INTO release FROM public.releases r WHERE r.app_id = the_app AND r.version = release_create.version;
    created := NOT FOUND;
    IF NOT created THEN
        RETURN;
    END IF;
    release := public.release_insert_release(the_app, version, commit_sha, artifact, notes, claimed);
    PERFORM public.release_append_audit(the_app, claimed, 'release.created', NULL, version, details);
    IF migrations IS NOT NULL THEN
        PERFORM public.release_record_migrations(release.id, migrations, paths, classes, reversibles, reasons);
        PERFORM public.release_append_audit(the_app, claimed, 'migrations.recorded', NULL, version, migrations_details);
    END IF;
END
$$;

-- `release check`: records a CI check result of `version`, audited.
CREATE FUNCTION release_record_check(app text, version text, name text, status text, url text, claimed text, details jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    target public.releases := public.release_require_release(app, version);
BEGIN
    PERFORM public.release_insert_check(target.id, name, status, url, claimed);
    PERFORM public.release_append_audit(target.app_id, claimed, 'check.recorded', NULL, version, details);
END
$$;

-- `release approve`: records an approval of `version` for `environment`, audited; a quarantined
-- release is refused (RA001, exit 3): approving it would change nothing.
CREATE FUNCTION release_approve(app text, environment text, version text, claimed text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    target public.releases := public.release_require_release(app, version);
BEGIN
    IF target.quarantined_at IS NOT NULL THEN
        RAISE EXCEPTION '% is quarantined (%); approving it would change nothing.', version,
            coalesce(target.quarantine_reason, 'no reason given') USING ERRCODE = 'RA001';
    END IF;
    PERFORM public.release_insert_approval(public.release_environment_id(target.app_id, environment), target.id, claimed);
    PERFORM public.release_append_audit(target.app_id, claimed, 'approval.recorded', environment, version, '{}');
END
$$;

REVOKE EXECUTE ON FUNCTION
    release_require_release(text, text),
    release_create(text, text, text, text, text, text, jsonb, text[], text[], text[], boolean[], text[], jsonb),
    release_record_check(text, text, text, text, text, text, jsonb),
    release_approve(text, text, text, text)
FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
        GRANT EXECUTE ON FUNCTION
            release_require_release(text, text),
            release_create(text, text, text, text, text, text, jsonb, text[], text[], text[], boolean[], text[], jsonb),
            release_record_check(text, text, text, text, text, text, jsonb),
            release_approve(text, text, text, text)
        TO release_operator;
        GRANT EXECUTE ON FUNCTION release_require_release(text, text) TO release_auditor;
    END IF;
END
$$;
