-- The schema migrations each release holds (release.yml's `migrations:`), recorded from git at
-- `release create`, so that what a move between two releases crosses is a set difference in the
-- database, with no access to the environment; and the acknowledgements of the expand/contract
-- step (`release migrations ack`). Writes go through SECURITY DEFINER functions, as since 0006.

-- Whether the release's migrations were recorded at create (false: unknown, every move across it
-- is treated as crossing an unknown migration).
ALTER TABLE releases ADD COLUMN migrations_recorded boolean NOT NULL DEFAULT false;

CREATE TABLE release_migrations (
    release_id  bigint NOT NULL REFERENCES releases (id),
    migration   text NOT NULL,
    path        text NOT NULL,
    class       text NOT NULL CHECK (class IN ('compatible', 'incompatible', 'irreversible', 'unknown')),
    reversible  boolean NOT NULL,
    reason      text NOT NULL,
    PRIMARY KEY (release_id, migration)
);

-- `release migrations ack V MIGRATION --safe-back-to R`: the code of R and of every later release
-- no longer needs what MIGRATION (of V) removed, so rollbacks to them may cross it.
CREATE TABLE migration_acks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    release_id    bigint NOT NULL REFERENCES releases (id),
    migration     text NOT NULL,
    safe_back_to  bigint NOT NULL REFERENCES releases (id),
    reason        text NOT NULL,
    acked_by      text NOT NULL,
    login         text,
    on_behalf_of  text,
    acked_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX migration_acks_by_migration ON migration_acks (migration, safe_back_to);

-- Records a release's migrations (arrays in step), once, and marks it recorded.
CREATE FUNCTION release_record_migrations(release bigint, migrations text[], paths text[], classes text[], reversibles boolean[],
    reasons text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.release_migrations (release_id, migration, path, class, reversible, reason)
    SELECT release, m.migration, m.path, m.class, m.reversible, m.reason
    FROM unnest(migrations, paths, classes, reversibles, reasons) AS m (migration, path, class, reversible, reason);
    UPDATE public.releases r SET migrations_recorded = true WHERE r.id = release;
$$;

-- Records an acknowledgement as the acting person (see release_act).
CREATE FUNCTION release_ack_migration(release bigint, migration text, safe_back_to bigint, reason text, claimed text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO public.migration_acks (release_id, migration, safe_back_to, reason, acked_by, login, on_behalf_of)
    SELECT release, migration, safe_back_to, reason, who.actor, who.login, who.on_behalf_of FROM public.release_act(claimed) who
$$;

REVOKE EXECUTE ON FUNCTION
    release_record_migrations(bigint, text[], text[], text[], boolean[], text[]),
    release_ack_migration(bigint, text, bigint, text, text)
FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
        GRANT SELECT ON release_migrations, migration_acks TO release_operator, release_auditor;
        GRANT EXECUTE ON FUNCTION
            release_record_migrations(bigint, text[], text[], text[], boolean[], text[]),
            release_ack_migration(bigint, text, bigint, text, text)
        TO release_operator;
    END IF;
END
$$;
