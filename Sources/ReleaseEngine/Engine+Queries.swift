import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

extension Engine {
    /// `release status`: what is live where, since when, by whom, health, in flight, frozen.
    /// Two round trips whatever the number of environments: the ids and the clock, then every
    /// environment's state at once.
    public func status(environment name: String?) async throws -> [EnvironmentStatus] {
        let environments = try name.map { [try configuration.environment(named: $0)] } ?? configuration.environments
        let app = self.app
        return try await database { db in try db.statuses(app: app, environments: environments) }
    }

    /// `release history`: deployments newest first.
    public func history(environment name: String?, limit: Int) async throws -> [DeploymentRecord] {
        if let name { _ = try configuration.environment(named: name) }
        let app = self.app
        return try await database { db in try db.history(app: app, environment: name, limit: limit) }
    }

    /// `release audit`: events in order, filtered.
    public func audit(environment: String?, since: Timestamp?, until: Timestamp?, limit: Int?) async throws -> [AuditEvent] {
        if let environment { _ = try configuration.environment(named: environment) }
        let app = self.app
        return try await database { db in
            try db.auditEvents(app: .named(app), environment: environment, since: since, until: until, limit: limit)
        }
    }

    /// `release audit --at`: what was live in every configured environment at an instant.
    public func liveAt(_ instant: Timestamp) async throws -> [(String, LiveRelease?)] {
        let app = self.app
        let names = configuration.environments.map(\.name)
        let live: [String: LiveRelease] = try await database { db in try db.liveAt(app: .named(app), at: instant) }
        return names.map { ($0, live[$0]) }
    }

    /// `release audit verify`: walks the app's hash chain. Returns the number of events checked,
    /// or throws naming the first altered or missing event.
    public func verifyAudit() async throws -> Int64 {
        let app = self.app
        let appID = try await database { db in try db.appID(named: app) }
        guard let appID else { return 0 }
        return try await AuditVerification.verify(connection: connection, appID: appID, app: app)
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
