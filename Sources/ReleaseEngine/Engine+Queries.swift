import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

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
}

extension Engine {
    /// `release status`: what is live where, since when, by whom, health, in flight, frozen.
    /// Two round trips whatever the number of environments: the ids and the clock, then every
    /// environment's state at once.
    public func status(environment name: String?) async throws -> [EnvironmentStatus] {
        let environments = try name.map { [try configuration.environment(named: $0)] } ?? configuration.environments
        let app = self.app
        return try await database { db in
            let (known, now) = try db.fetch(Reads.environments(app: app), Reads.now())
            return try Self.statuses(db, environments: environments.map { ($0, known.environments[$0.name]) }, now: now)
        }
    }

    /// The state of each environment (its id nil when the database has not seen it: nothing live,
    /// unknown health) at `now`: five statements in one round trip, whatever the number of
    /// environments (or apps: the dashboard's overview asks for all of them). `release status` and
    /// the dashboard share it.
    public static func statuses(_ db: PostgresConnection, environments: [(configuration: EnvironmentConfiguration, id: Int64?)],
                                now: Timestamp) throws -> [EnvironmentStatus] {
        let ids = environments.compactMap(\.id)
        let (live, inFlight, freezes, health, last) = try db.fetch(
            Reads.currentLive(environments: ids), Reads.inFlight(environments: ids), Reads.openFreezes(environments: ids),
            Reads.health(environments: ids), Reads.lastFinished(environments: ids))
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
            }
            let context = GateContext(kind: .deploy, environment: configuration, actor: "", now: now, release: nil, adHocFreezes: adHoc)
            let (reasons, end) = PromotionGate.activeFreezes(context)
            return EnvironmentStatus(name: configuration.name, live: current, health: verdict, healthDetail: detail,
                                     inFlight: of(inFlight), freezeReasons: reasons, frozenUntil: end)
        }
    }

    /// `release history`: deployments newest first.
    public func history(environment name: String?, limit: Int) async throws -> [DeploymentRecord] {
        if let name { _ = try configuration.environment(named: name) }
        let app = self.app
        return try await database { db in
            guard let appID = try db.appID(named: app) else { return [] }
            if let name {
                guard let environmentID = try db.environmentID(app: appID, named: name) else { return [] }
                return try db.history(app: appID, environment: environmentID, limit: limit)
            }
            return try db.history(app: appID, environment: nil, limit: limit)
        }
    }

    /// `release audit`: events in order, filtered.
    public func audit(environment: String?, since: Timestamp?, until: Timestamp?, limit: Int?) async throws -> [AuditEvent] {
        if let environment { _ = try configuration.environment(named: environment) }
        let app = self.app
        return try await database { db in
            guard let appID = try db.appID(named: app) else { return [] }
            return try db.auditEvents(app: appID, environment: environment, since: since, until: until, limit: limit)
        }
    }

    /// `release audit --at`: what was live in every configured environment at an instant.
    public func liveAt(_ instant: Timestamp) async throws -> [(String, LiveRelease?)] {
        let app = self.app
        let names = configuration.environments.map(\.name)
        let live: [String: LiveRelease] = try await database { db in
            guard let appID = try db.appID(named: app) else { return [:] }
            return try db.liveAt(app: appID, at: instant)
        }
        return names.map { ($0, live[$0]) }
    }

    /// `release audit verify`: walks the app's hash chain. Returns the number of events checked,
    /// or throws naming the first altered or missing event.
    public func verifyAudit() async throws -> Int64 {
        let app = self.app
        let appID = try await database { db in try db.appID(named: app) }
        guard let appID else { return 0 }
        return try await Self.verifyAudit(connection: connection, appID: appID, app: app)
    }

    /// Walks one app's hash chain (`release audit verify`, and the dashboard's release pages).
    public static func verifyAudit(connection: PostgresConnection, appID: Int64, app: String) async throws -> Int64 {
        let batch = 5000
        var verifier = AuditChainVerifier()
        // The connection's queue reads the next batch (PostgreSQL producing it meanwhile) while
        // this one is decoded and hashed.
        func read(after cursor: Int64) -> Task<[PostgresRow], any Error> {
            Task { try await database(connection) { db in try db.auditChainRows(app: appID, after: cursor, limit: batch) } }
        }
        var next: Task<[PostgresRow], any Error>? = read(after: 0)
        while let reading = next {
            let rows = try await reading.value
            do {
                next = rows.count == batch ? read(after: try rows[rows.count - 1].int64("sequence")) : nil
                for row in rows where !verifier.check(try PostgresConnection.auditEvent(row)) { break }
            } catch let error as PostgresError {
                throw translate(error)
            }
            if verifier.problem != nil {
                // Let a read already under way finish before the connection is used again.
                if let next { _ = try? await next.value }
                break
            }
        }
        let head = try await database(connection) { db in try db.auditHead(app: appID) }
        verifier.finish(expectedCount: head.count, expectedHeadHash: head.hash)
        if let problem = verifier.problem {
            throw ReleaseError.failed("The audit trail of \(app) has been tampered with: \(problem). Restore the database from a backup and compare.")
        }
        return verifier.checked
    }

    /// `release probe`: every named environment's health probe at once, each to its verdict.
    public func probe(environments names: [String]) async throws -> [(String, ProbeVerdict)] {
        let targets: [EnvironmentConfiguration]
        if names.isEmpty {
            targets = configuration.environments.filter { $0.health != nil }
            if targets.isEmpty { throw ReleaseError.usage("No environment in \(configuration.file) has a `health:` block to probe.") }
        } else {
            targets = try names.map { name in
                let environment = try configuration.environment(named: name)
                guard environment.health != nil else {
                    throw ReleaseError.usage("Environment '\(name)' has no `health:` block in \(configuration.file); add one to probe it.")
                }
                return environment
            }
        }
        let prober = self.prober
        let verdicts = await withTaskGroup(of: (Int, ProbeVerdict).self) { group in
            for (index, environment) in targets.enumerated() {
                guard let health = environment.health else { continue }
                group.addTask { (index, await prober.verify(health)) }
            }
            var results: [(Int, ProbeVerdict)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map { (targets[$0.0].name, $0.1) }
        }
        let app = self.app
        // Two round trips for any number of environments: their ids, then every verdict with COMMIT.
        try await transaction { db in
            let known = try db.fetch(Reads.environments(app: app)).environments
            for (name, verdict) in verdicts {
                if let environmentID = known[name] {
                    try db.recordHealth(environment: environmentID, healthy: verdict.passed, detail: verdict.detail)
                }
            }
        }
        return verdicts
    }
}
