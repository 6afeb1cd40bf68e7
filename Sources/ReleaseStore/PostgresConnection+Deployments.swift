import Postgres
import ReleaseCore

let deploymentSelect = """
    SELECT d.id, d.environment_id, e.name AS environment, r.version, d.release_id, d.kind, d.state, d.actor, d.started_at, d.finished_at,
           d.operation, d.live_reference, d.verified, d.rollback_of, d.detail, d.lease_owner, d.lease_expires_at,
           d.source_deployment_id, d.reason, d.cutover_at, d.login, d.on_behalf_of, d.verdict, d.accepted_at
    FROM deployments d JOIN environments e ON e.id = d.environment_id JOIN releases r ON r.id = d.release_id
    """

/// The in-flight states as an SQL list, from `DeploymentState.inFlight`: the one list. The
/// migrations' partial indexes name the same states (SchemaTests holds them together).
let inFlightStates = sqlList(DeploymentState.allCases.filter(\.isInFlight))

/// States as an SQL list of literals, in the order of `DeploymentState.allCases`.
func sqlList(_ states: [DeploymentState]) -> String {
    states.map { "'\($0.rawValue)'" }.joined(separator: ", ")
}

extension PostgresConnection {
    /// Inserts a deployment in `pending`. Throws `ReleaseError.busy` when the environment already
    /// has one in flight: the database's partial unique index decides, not the client.
    public func insertDeployment(
        app: Int64, environment: Int64, environmentName: String, release: Int64, kind: DeploymentKind,
        by actor: String, reason: String?, sourceDeployment: Int64? = nil,
        rollbackOf: Int64? = nil
    ) throws -> Int64 {
        // ON CONFLICT against the partial unique index: a busy environment is an answer, not an
        // error that would abort the caller's transaction.
        // NULL when the environment is busy: an answer, not an error that would abort the caller's transaction.
        let rows = try query(
            """
            SELECT release_insert_deployment(\(app), \(environment), \(release), \(kind.rawValue), \(actor), \(reason.map(Secrets.redact)),
                                             \(sourceDeployment), \(rollbackOf)) AS id
            """)
        guard let id = try rows.first?.optionalInt64("id") else {
            throw try busyError(environment: environment, name: environmentName)
        }
        return id
    }

    /// `insertDeployment` with the id taken beforehand (`Reads.nextDeploymentID`), queued to travel
    /// with the transaction's next statement or COMMIT: a busy environment refuses there (RA004,
    /// busy, naming what is in flight), and the transaction rolls back.
    public func startDeployment(
        id: Int64, app: Int64, environment: Int64, release: Int64, kind: DeploymentKind, by actor: String, reason: String?,
        sourceDeployment: Int64? = nil
    ) throws {
        try enqueue(
            """
            SELECT release_insert_deployment_as(\(id), \(app), \(environment), \(release), \(kind.rawValue), \(actor),
                                                \(reason.map(Secrets.redact)), \(sourceDeployment), NULL)
            """)
    }

    /// The error for a busy environment, naming what is in flight there.
    public func busyError(environment: Int64, name: String) throws -> ReleaseError {
        if let current = try inFlight(environment: environment) {
            return .busy(
                "Environment '\(name)' is busy: \(current.kind.rawValue) of \(current.version) by \(current.by) is "
                    + "\(current.state.rawValue) (deployment \(current.id)). Wait for it, or run `release recover \(name)` if that run died.")
        }
        return .busy("Environment '\(name)' is busy with another operation. Try again in a moment.")
    }

    /// Moves a deployment to `state`, which the database checks against the transition table.
    /// The detail is stored without secrets: a failure's message may quote what a platform echoed.
    public func transition(deployment id: Int64, to state: DeploymentState, detail: String? = nil) throws {
        try enqueue("SELECT release_transition(\(id), \(state.rawValue), \(detail.map(Secrets.redact)))")
    }

    /// Marks a failed deployment rolled back once its automatic rollback is verified. One that the
    /// watch found bad while live stays as it is: the rollback's cutover superseded it.
    public func markRolledBack(deployment id: Int64) throws {
        try enqueue("SELECT release_mark_rolled_back(\(id))")
    }

    /// Sets a deployment's detail without moving it: an in-flight one says why it waits for `release recover`.
    public func annotate(deployment id: Int64, detail: String) throws {
        try enqueue("SELECT release_annotate(\(id), \(Secrets.redact(detail)))")
    }

    /// Takes the lease of an in-flight deployment for `owner` for `seconds`.
    public func takeLease(deployment id: Int64, owner: String, seconds: Int) throws {
        try enqueue("SELECT release_take_lease(\(id), \(owner), \(seconds))")
    }

    /// Extends our lease; false if it is no longer ours (another run took over).
    public func heartbeat(deployment id: Int64, owner: String, seconds: Int) throws -> Bool {
        try query("SELECT release_heartbeat(\(id), \(owner), \(seconds)) AS held").first?.bool("held") ?? false
    }

    /// Takes over an in-flight deployment whose lease has expired or whose owner is known dead.
    /// Returns false when another run holds a live lease.
    public func takeOverLease(deployment id: Int64, from previousOwner: String?, owner: String, seconds: Int, ownerIsDead: Bool) throws -> Bool {
        try query(
            "SELECT release_take_over_lease(\(id), \(previousOwner), \(owner), \(seconds), \(ownerIsDead)) AS taken"
        ).first?.bool("taken") ?? false
    }

    /// Locks the deployment row and tells whether `owner` still holds its lease.
    /// Queues the check that this run still holds the deployment's lease: the transaction stops
    /// there (RA004, busy) when another run took it over, recording nothing.
    public func requireLease(deployment id: Int64, owner: String) throws {
        try enqueue("SELECT release_require_lease(\(id), \(owner))")
    }

    public func holdsLease(deployment id: Int64, owner: String) throws -> Bool {
        try fetch(Reads.holdsLease(deployment: id, owner: owner))
    }

    /// Merges provider operation references into the deployment (write-ahead).
    public func recordOperation(deployment id: Int64, _ reference: JSONValue) throws {
        try query("SELECT release_record_operation(\(id), \(reference)::jsonb)")
    }

    /// Cutover: the provider reports the release is being served. Closes the previous release's
    /// occupancy and opens this one's at the same instant, supersedes the previous live deployment,
    /// and moves this deployment to `verifying`. Returns the instant.
    @discardableResult
    public func cutover(deployment id: Int64, environment: Int64, release: Int64, liveReference: JSONValue) throws -> Timestamp {
        try fetch(Self.cutover(deployment: id, environment: environment, release: release, liveReference: liveReference))
    }

    /// `cutover`, committing the caller's transaction in the same round trip, with the audit event
    /// `audit` written after it, `"live_since"` (the instant, as `Timestamp.rfc3339` writes it)
    /// added by the database.
    public func commitCutover(
        deployment id: Int64, environment: Int64, release: Int64, liveReference: JSONValue, audit: AuditEntry
    ) throws -> Timestamp {
        let cutover = Self.cutover(deployment: id, environment: environment, release: release, liveReference: liveReference)
        let instant = "to_char((SELECT cutover_at FROM deployments WHERE id = \(id)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        return try commit(
            returning: cutover,
            then: [
                """
                SELECT release_append_audit(\(audit.app), \(audit.actor), \(audit.action), \(audit.environment), \(audit.version),
                                            \(audit.details)::jsonb || jsonb_build_object('live_since', \(unsafeSQL: instant)))
                """
            ])
    }

    private static func cutover(deployment id: Int64, environment: Int64, release: Int64, liveReference: JSONValue) -> Fetch<Timestamp> {
        Fetch("SELECT release_cutover(\(id), \(environment), \(release), \(liveReference)::jsonb) AS t") { rows in
            guard let row = rows.first else { throw PostgresError(kind: .decoding, message: "Cutover returned nothing.") }
            return try row.timestamp("t")
        }
    }

    /// Verification passed: the deployment is live.
    public func markVerified(deployment id: Int64, detail: String) throws {
        try enqueue("SELECT release_mark_verified(\(id), \(Secrets.redact(detail)))")
    }

    /// One deployment.
    public func deployment(id: Int64) throws -> DeploymentRecord? {
        try fetch(Reads.deployment(id: id))
    }

    /// The deployment in flight in an environment, if any.
    public func inFlight(environment: Int64) throws -> DeploymentRecord? {
        try fetch(Reads.inFlight(environment: environment))
    }

    /// In-flight deployments of an app (optionally one environment), oldest first.
    public func inFlightDeployments(app: Int64, environment: Int64?) throws -> [DeploymentRecord] {
        try query(
            """
            \(unsafeSQL: deploymentSelect)
            WHERE d.app_id = \(app) AND d.state IN (\(unsafeSQL: inFlightStates))
              AND (\(environment)::bigint IS NULL OR d.environment_id = \(environment)::bigint)
            ORDER BY d.id
            """
        ).map { try $0.deploymentRecord() }
    }

    /// Deployments newest first, of one environment or the whole app.
    public func history(app: String, environment: String?, limit: Int) throws -> [DeploymentRecord] {
        try fetch(Reads.history(app: app, environment: environment, limit: limit))
    }

    /// The release occupying an environment now.
    public func currentLive(environment: Int64) throws -> LiveRelease? {
        try fetch(Reads.currentLive(environment: environment))
    }

    /// What was live in each environment of the app at an instant.
    public func liveAt(app: AppRef, at instant: Timestamp) throws -> [String: LiveRelease] {
        try fetch(Reads.liveAt(app: app, at: instant))
    }

    /// The most recent deployment that verified a release in this environment, other than
    /// `excluding` and never a quarantined release: the rollback target.
    public func lastVerified(environment: Int64, excludingRelease excluding: Int64?) throws -> DeploymentRecord? {
        try fetch(Reads.deployment(id: .lastVerified(in: .known(environment), excluding: .known(excluding))))
    }

    /// The most recent verified deployment of a given release in this environment.
    public func lastVerified(environment: Int64, release: Int64) throws -> DeploymentRecord? {
        try fetch(Reads.deployment(id: .lastVerified(in: .known(environment), release: .known(release))))
    }
}
