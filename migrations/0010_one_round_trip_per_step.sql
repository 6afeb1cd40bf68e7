-- What lets each durable step of an operation be one round trip: checks that refuse inside the
-- transaction instead of answers the client reads first, and a deployment id known before the
-- row is written, so that everything a step writes travels with its COMMIT.

-- Refuses (RA004, busy) unless the run that calls it still holds the deployment's lease: the
-- first statement of every transaction that records progress on a deployment, so that a run
-- whose lease another took over records nothing more. Locks the row, like release_holds_lease.
CREATE FUNCTION release_require_lease(deployment bigint, owner text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    env_name text;
BEGIN
    IF NOT public.release_holds_lease(deployment, owner) THEN
        SELECT e.name INTO env_name FROM public.deployments d JOIN public.environments e ON e.id = d.environment_id
        WHERE d.id = deployment;
        RAISE EXCEPTION 'Another run took over deployment % on % (this run''s lease expired); stopping without recording '
            'anything more. See `release status %`.', deployment, env_name, env_name USING ERRCODE = 'RA004';
    END IF;
END
$$;

-- The id the next deployment will have, taken before its row is written.
CREATE FUNCTION release_next_deployment_id() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT nextval(pg_get_serial_sequence('public.deployments', 'id'))
$$;

-- release_insert_deployment with the id given, refusing (RA004, busy) when the environment has
-- an operation in flight, with what it is and what to do.
CREATE FUNCTION release_insert_deployment_as(id bigint, app bigint, environment bigint, release bigint, kind text,
    claimed text, reason text, source_deployment bigint, rollback_of bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    busy record;
BEGIN
    INSERT INTO public.deployments (id, app_id, environment_id, release_id, kind, state, actor, reason, source_deployment_id,
                                    rollback_of, login, on_behalf_of)
    OVERRIDING SYSTEM VALUE
    SELECT release_insert_deployment_as.id, app, environment, release, kind, 'pending', who.actor, reason, source_deployment,
           rollback_of, who.login, who.on_behalf_of
    FROM public.release_act(claimed) who
    ON CONFLICT (environment_id) WHERE state IN ('pending', 'gating', 'deploying', 'verifying') DO NOTHING;
    IF NOT FOUND THEN
        SELECT d.id, d.kind, d.state, d.actor, r.version, e.name INTO busy
        FROM public.deployments d JOIN public.releases r ON r.id = d.release_id JOIN public.environments e ON e.id = d.environment_id
        WHERE d.environment_id = environment AND d.state IN ('pending', 'gating', 'deploying', 'verifying');
        RAISE EXCEPTION 'Environment ''%'' is busy: % of % by % is % (deployment %). Wait for it, or run `release recover %` if '
            'that run died.', busy.name, busy.kind, busy.version, busy.actor, busy.state, busy.id, busy.name USING ERRCODE = 'RA004';
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION
    release_require_lease(bigint, text), release_next_deployment_id(),
    release_insert_deployment_as(bigint, bigint, bigint, bigint, text, text, text, bigint, bigint)
FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
        GRANT EXECUTE ON FUNCTION
            release_require_lease(bigint, text), release_next_deployment_id(),
            release_insert_deployment_as(bigint, bigint, bigint, bigint, text, text, text, bigint, bigint)
        TO release_operator;
    END IF;
END
$$;
