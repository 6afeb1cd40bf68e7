-- The check every command makes before its first statement, made inside that statement's round
-- trip instead of one of its own: the client sends what it expects (every migration it carries,
-- as `version:checksum` joined by commas, and whether identity enforcement is on), and the
-- function refuses when the database differs, so that the statements sent with it are skipped.
-- RA002: the schema is not the one the client carries (it then runs the full check, which says
-- how: behind, ahead, or changed). RA003: enforcement is not what the client assumed (it then
-- starts the command again, reading who acts and the stored policy first).
CREATE FUNCTION release_session_check(expected text, assume_enforced boolean) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF (SELECT string_agg(m.version || ':' || m.checksum, ',' ORDER BY m.version) FROM public.release_schema_migrations m)
       IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'The database schema is not the one this release binary carries.' USING ERRCODE = 'RA002';
    END IF;
    IF EXISTS (SELECT 1 FROM public.access_enforcement) IS DISTINCT FROM assume_enforced THEN
        RAISE EXCEPTION 'Identity enforcement is %, not as assumed.', CASE WHEN assume_enforced THEN 'off' ELSE 'on' END
            USING ERRCODE = 'RA003';
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION release_session_check(text, boolean) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
        GRANT EXECUTE ON FUNCTION release_session_check(text, boolean) TO release_operator, release_auditor;
    END IF;
END
$$;
