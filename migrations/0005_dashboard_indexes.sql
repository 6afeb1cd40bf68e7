-- What `release serve` reads per page, indexed so that pages stay fast as history grows:
-- an environment's timeline (its latest occupancies), a release's deployments, approvals and audit events.
CREATE INDEX occupancy_timeline ON occupancy (environment_id, lower(during) DESC);
CREATE INDEX deployments_by_release ON deployments (release_id, id);
CREATE INDEX audit_events_by_version ON audit_events (app_id, version, sequence);
CREATE INDEX approvals_by_release ON approvals (release_id, id);
