import Postgres
import ReleaseCore

// What release status, audit verify and the dashboard read: the read model, shared by the CLI
// (through the engine) and `release serve`, which depends on the store alone.

/// One environment in `release status`.
public struct EnvironmentStatus: Sendable {
    /// The environment's name.
    public var name: String
    /// What is live, if anything.
    public var live: LiveRelease?
    /// healthy, unhealthy, degraded, verifying or unknown.
    public var health: String
    /// The last health detail.
    public var healthDetail: String?
    /// The deployment in flight, if any.
    public var inFlight: DeploymentRecord?
    /// Why it is frozen, empty when not.
    public var freezeReasons: [String]
    /// When the freeze ends, if known.
    public var frozenUntil: Timestamp?
    /// The signal verdicts of what is live (`verify:`), in release.yml's order.
    public var signals: [SignalVerdictRecord] = []
}

extension PostgresConnection {
    /// The state of each environment (its id nil when the database has not seen it: nothing live,
    /// unknown health) at `now`: six statements in one round trip, whatever the number of
    /// environments (or apps: the dashboard's overview asks for all of them). `release status` and
    /// the dashboard share it.
    public func statuses(
        environments: [(configuration: EnvironmentConfiguration, id: Int64?)],
        now: Timestamp
    ) throws -> [EnvironmentStatus] {
        let reads = Self.statusReads(.ids(environments.compactMap(\.id)))
        return Self.statuses(environments, now: now, try fetch(reads.0, reads.1, reads.2, reads.3, reads.4, reads.5))
    }

    /// `statuses` of `app`'s `environments` by name, in one round trip with the ids and the clock:
    /// what `release status` sends.
    public func statuses(app: String, environments: [EnvironmentConfiguration]) throws -> [EnvironmentStatus] {
        let reads = Self.statusReads(.named(app: app, environments.map(\.name)))
        let (known, now, live, inFlight, freezes, health, last, signals) = try fetch(
            Reads.environments(app: app), Reads.now(), reads.0, reads.1, reads.2, reads.3, reads.4, reads.5)
        let named = environments.map { ($0, known.environments[$0.name]) }
        return Self.statuses(named, now: now, (live, inFlight, freezes, health, last, signals))
    }

    private static func statusReads(
        _ environments: EnvironmentSet
    ) -> (
        Fetch<[Int64: LiveRelease]>, Fetch<[Int64: DeploymentRecord]>, Fetch<[Int64: [AdHocFreeze]]>,
        Fetch<[Int64: (health: String, detail: String?, recoveredAt: Timestamp?)]>, Fetch<[Int64: DeploymentRecord]>,
        Fetch<[Int64: [SignalVerdictRecord]]>
    ) {
        (
            Reads.currentLive(environments: environments), Reads.inFlight(environments: environments),
            Reads.openFreezes(environments: environments), Reads.health(environments: environments),
            Reads.lastFinished(environments: environments), Reads.liveSignalVerdicts(environments: environments)
        )
    }

    private static func statuses(
        _ environments: [(configuration: EnvironmentConfiguration, id: Int64?)], now: Timestamp,
        _ read: (
            live: [Int64: LiveRelease], inFlight: [Int64: DeploymentRecord], freezes: [Int64: [AdHocFreeze]],
            health: [Int64: (health: String, detail: String?, recoveredAt: Timestamp?)], last: [Int64: DeploymentRecord],
            signals: [Int64: [SignalVerdictRecord]]
        )
    ) -> [EnvironmentStatus] {
        let (live, inFlight, freezes, health, last, signals) = read
        return environments.map { configuration, id in
            func of<T>(_ values: [Int64: T]) -> T? { id.flatMap { values[$0] } }
            let current = of(live)
            let adHoc = (of(freezes) ?? []).filter { $0.isActive(at: now) }
            var (verdict, detail, _) = of(health) ?? ("unknown", nil, nil)
            if let finished = of(last), finished.kind == .rollback, finished.state == .failed {
                verdict = "degraded"
                detail = finished.detail
            } else if let current, current.state == .failed {
                verdict = "unhealthy"
            } else if let current, current.state == .verifying {
                verdict = "verifying"
            } else if let current, current.isHeld {
                verdict = "held"
                detail = "live, not verified: its verification was inconclusive; `release accept \(configuration.name) --reason …` or roll back"
            }
            let context = GateContext(kind: .deploy, environment: configuration, actor: "", now: now, release: nil, adHocFreezes: adHoc)
            let (reasons, end) = PromotionGate.activeFreezes(context)
            return EnvironmentStatus(
                name: configuration.name, live: current, health: verdict, healthDetail: detail,
                inFlight: of(inFlight), freezeReasons: reasons, frozenUntil: end, signals: of(signals) ?? [])
        }
    }
}

/// `release audit verify` and the dashboard's release pages: walks one app's hash chain.
public enum AuditVerification {
    /// Walks one app's hash chain (`release audit verify`, and the dashboard's release pages).
    public static func verify(connection: PostgresConnection, appID: Int64, app: String) async throws -> Int64 {
        let batch = 5000
        var verifier = AuditChainVerifier()
        // The connection's queue reads the next batch (PostgreSQL producing it meanwhile) while
        // this one is decoded and hashed.
        func read(after cursor: Int64) -> Task<[PostgresRow], any Error> {
            Task { try await DatabaseFailure.run(connection) { db in try db.auditChainRows(app: appID, after: cursor, limit: batch) } }
        }
        var next: Task<[PostgresRow], any Error>? = read(after: 0)
        while let reading = next {
            let rows = try await reading.value
            do {
                next = rows.count == batch ? read(after: try rows[rows.count - 1].int64("sequence")) : nil
                for row in rows where !verifier.check(try PostgresConnection.auditEvent(row)) { break }
            } catch let error as PostgresError {
                throw DatabaseFailure.translate(error)
            }
            if verifier.problem != nil {
                // Let a read already under way finish before the connection is used again.
                if let next { _ = try? await next.value }
                break
            }
        }
        let head = try await DatabaseFailure.run(connection) { db in try db.auditHead(app: appID) }
        verifier.finish(expectedCount: head.count, expectedHeadHash: head.hash)
        if let problem = verifier.problem {
            throw ReleaseError.failed("The audit trail of \(app) has been tampered with: \(problem). Restore the database from a backup and compare.")
        }
        return verifier.checked
    }
}

/// What a database failure means to a user, in the contract's exit codes.
public enum DatabaseFailure {
    /// Runs a step on `connection`, turning connection failures into the contract's exit 5.
    public static func run<T: Sendable>(
        _ connection: PostgresConnection,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        do {
            return try await connection.run(body)
        } catch let error as PostgresError {
            throw translate(error)
        }
    }

    /// The user-facing form of a failure to connect to `url`, its password never shown.
    public static func unreachable(url: String, _ error: PostgresError) -> ReleaseError {
        let shown = url.isEmpty ? "libpq's defaults (PGHOST, PGPORT, …)" : ConnectionString.redacted(url)
        let reason = error.message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
        // libpq's last line is often a question ("Is the server running …?"): no full stop after it.
        let sentence = reason.last.map { ".?!".contains($0) } == true ? reason : reason + "."
        return .unavailable(
            "Cannot reach the database at \(shown): \(ConnectionString.redacted(sentence)) Check --database-url or "
                + "RELEASE_DATABASE_URL and that PostgreSQL is running.")
    }

    /// The user-facing form of a database error.
    public static func translate(_ error: PostgresError) -> ReleaseError {
        if error.isConnectionFailure {
            return .unavailable(
                "Lost the database connection (\(error.message)). Check that PostgreSQL is up, then run `release recover` if an "
                    + "operation was in flight.")
        }
        // Refused by the access rules the database enforces; the message says what to do.
        if error.sqlState == "RA001" {
            return .refused(error.message)
        }
        // Busy: the environment has an operation in flight, or another run took this one's lease.
        if error.sqlState == "RA004" {
            return .busy(error.message)
        }
        if error.sqlState == "22023" {
            return .usage(error.message)
        }
        if error.sqlState == "42501" {
            return .usage(
                "The database role may not do this (\(error.message)). Operators need release_operator; release_auditor may only read "
                    + "(status, history, audit). See docs/database.md.")
        }
        if error.sqlState == "55P03" {
            return .busy("The database is busy: another session holds a lock this command needs (\(error.message)). Try again in a moment.")
        }
        return .unavailable("The database refused the operation: \(error.description).")
    }
}
