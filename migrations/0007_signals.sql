-- Verification by signals (release.yml's `verify:`): every measurement of every signal, each
-- signal's verdict per deployment, and the deployment's verdict.
--
-- A deployment whose signals came out inconclusive under `on_inconclusive: hold` is live and not
-- verified (verdict 'inconclusive'): promotions from it are refused, its soak does not count,
-- and only `release accept` (an allowed person, audited) marks it verified. Like every write
-- since 0006, these go through SECURITY DEFINER functions; the tables are read-only to the roles.

ALTER TABLE deployments ADD COLUMN verdict text CHECK (verdict IN ('pass', 'inconclusive', 'fail'));
-- When `release accept` verified a held deployment: the soak gate counts from then.
ALTER TABLE deployments ADD COLUMN accepted_at timestamptz;

-- One row per measurement: what was asked (the query with its templates filled, secrets
-- removed), over which window (never before the deployment's cutover), and what came of it.
CREATE TABLE signal_measurements (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id  bigint NOT NULL REFERENCES deployments (id),
    signal         text NOT NULL,
    monitor        text NOT NULL,
    enforcing      boolean NOT NULL,
    measured_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL CHECK (window_end >= window_start),
    query          text NOT NULL,
    value          double precision,
    outcome        text NOT NULL CHECK (outcome IN ('pass', 'inconclusive', 'error', 'fail')),
    detail         text NOT NULL
);
CREATE INDEX signal_measurements_by_deployment ON signal_measurements (deployment_id, id);

-- Each signal's verdict so far for a deployment ('measuring' until its last measurement), with
-- its latest value: what status, history and the dashboard show.
CREATE TABLE signal_verdicts (
    deployment_id  bigint NOT NULL REFERENCES deployments (id),
    signal         text NOT NULL,
    position       integer NOT NULL,
    monitor        text NOT NULL,
    enforcing      boolean NOT NULL,
    verdict        text NOT NULL CHECK (verdict IN ('measuring', 'pass', 'inconclusive', 'fail')),
    value          double precision,
    detail         text NOT NULL,
    measurements   integer NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (deployment_id, signal)
);

-- Records one measurement and the signal's verdict so far, in one call. A window reaching
-- before the deployment's cutover is refused: the previous release's traffic never counts.
CREATE FUNCTION release_record_measurement(deployment bigint, signal text, signal_position integer, monitor text, enforcing boolean,
    window_start timestamptz, window_end timestamptz, query text, value double precision, outcome text, detail text,
    verdict text, measurements integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    IF window_start < (SELECT d.cutover_at FROM public.deployments d WHERE d.id = deployment) THEN
        RAISE EXCEPTION 'The window of % starts before the cutover of deployment %.', signal, deployment USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.signal_measurements (deployment_id, signal, monitor, enforcing, window_start, window_end, query, value,
                                            outcome, detail)
    VALUES (deployment, signal, monitor, enforcing, window_start, window_end, query, value, outcome, detail);
    INSERT INTO public.signal_verdicts AS v (deployment_id, signal, position, monitor, enforcing, verdict, value, detail, measurements)
    VALUES (deployment, signal, signal_position, monitor, enforcing, verdict, value, detail, measurements)
    ON CONFLICT (deployment_id, signal) DO UPDATE
    SET position = excluded.position, monitor = excluded.monitor, enforcing = excluded.enforcing, verdict = excluded.verdict,
        value = excluded.value, detail = excluded.detail, measurements = excluded.measurements, updated_at = clock_timestamp();
END
$$;

-- The verdict of a deployment's signals once measuring ends, and each signal's own.
CREATE FUNCTION release_set_verdict(deployment bigint, verdict text, signals text[], verdicts text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.signal_verdicts v SET verdict = f.verdict, updated_at = clock_timestamp()
    FROM unnest(signals, verdicts) AS f (signal, verdict)
    WHERE v.deployment_id = deployment AND v.signal = f.signal;
    UPDATE public.deployments d SET verdict = release_set_verdict.verdict WHERE d.id = deployment;
$$;

-- Holds a deployment whose verification was inconclusive: live, not verified, its lease released.
CREATE FUNCTION release_mark_held(deployment bigint, detail text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    UPDATE public.deployments d SET state = 'live', verified = false, verdict = 'inconclusive', detail = release_mark_held.detail,
           finished_at = clock_timestamp(), lease_owner = NULL, lease_expires_at = NULL
    WHERE d.id = deployment
$$;

-- `release accept`: marks the held deployment live in `environment` verified, as `claimed` (the
-- verified person under enforcement, who must be allowed there by the stored policy). Returns the
-- deployment, or NULL when nothing held is live there.
CREATE FUNCTION release_accept(environment bigint, reason text, claimed text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    who record;
    held bigint;
    allowed jsonb := (SELECT p.gates->'allowed' FROM public.policies p WHERE p.environment_id = environment);
BEGIN
    SELECT * INTO who FROM public.release_act(claimed);
    IF EXISTS (SELECT 1 FROM public.access_enforcement) AND jsonb_typeof(allowed) = 'array' AND NOT allowed ? who.actor THEN
        RAISE EXCEPTION '% may not accept a release on %; allowed: %.', who.actor,
            (SELECT name FROM public.environments WHERE id = environment),
            (SELECT string_agg(value, ', ') FROM jsonb_array_elements_text(allowed)) USING ERRCODE = 'RA001';
    END IF;
    UPDATE public.deployments d
    SET verified = true, accepted_at = clock_timestamp(),
        detail = format('accepted by %s: %s (signals were inconclusive)', who.actor, release_accept.reason)
    WHERE d.id = (SELECT o.deployment_id FROM public.occupancy o WHERE o.environment_id = environment AND upper_inf(o.during))
      AND d.state = 'live' AND NOT d.verified AND d.verdict = 'inconclusive'
    RETURNING d.id INTO held;
    RETURN held;
END
$$;

REVOKE EXECUTE ON FUNCTION
    release_record_measurement(bigint, text, integer, text, boolean, timestamptz, timestamptz, text, double precision, text, text,
                               text, integer),
    release_set_verdict(bigint, text, text[], text[]), release_mark_held(bigint, text), release_accept(bigint, text, text)
FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'release_operator') THEN
        GRANT SELECT ON signal_measurements, signal_verdicts TO release_operator, release_auditor;
        GRANT EXECUTE ON FUNCTION
            release_record_measurement(bigint, text, integer, text, boolean, timestamptz, timestamptz, text, double precision, text,
                                       text, text, integer),
            release_set_verdict(bigint, text, text[], text[]), release_mark_held(bigint, text), release_accept(bigint, text, text)
        TO release_operator;
    END IF;
END
$$;
