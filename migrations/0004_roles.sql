-- Two group roles to grant to people and CI, so nobody needs the owner's:
--   release_operator: may run every command (read everything, record releases, checks,
--                     approvals, freezes, deployments and audit events).
--   release_auditor:  may read everything (status, history, audit, audit verify) and change
--                     nothing.
-- Grant them to login roles: GRANT release_operator TO ci; GRANT release_auditor TO alice;
-- Roles belong to the whole PostgreSQL cluster; when the migrating user may not create roles
-- (a managed database, say), this creates nothing and says so: an administrator can create the
-- two roles and run `release migrate` again on a new database, or apply these grants by hand.
DO $$
DECLARE
    may_create boolean;
BEGIN
    SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles WHERE rolname = current_user;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
        IF NOT may_create THEN
            RAISE NOTICE 'release: % may not create roles; release_operator and release_auditor were not created', current_user;
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE release_operator NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- another database of this cluster created it at the same moment
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_auditor') THEN
        IF NOT may_create THEN
            RAISE NOTICE 'release: % may not create roles; release_auditor was not created', current_user;
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE release_auditor NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO release_operator, release_auditor', current_database());
    GRANT USAGE ON SCHEMA public TO release_operator, release_auditor;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO release_auditor;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO release_operator;
    -- What the commands write; audit_events takes INSERT only (its triggers refuse the rest).
    GRANT INSERT, UPDATE ON apps, environments, releases, checks, approvals, deployments,
        deployment_transitions, occupancy, freezes TO release_operator;
    GRANT INSERT ON audit_events TO release_operator;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO release_operator;
    -- Migrating stays with the owner: release_operator may not create tables or run migrate.
END
$$;
