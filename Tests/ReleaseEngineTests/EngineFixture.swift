import Foundation
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseEngine
import ReleaseStore
import ReleaseTestSupport

/// One engine scenario: a migrated throwaway database, a scripted provider, and a health
/// endpoint on loopback that answers for whatever the provider serves. Environments are `main`
/// (and nothing else), configured per test; each actor's engines share one connection, apart from
/// every other actor's, like separate runs of `release`.
final class EngineFixture: @unchecked Sendable {
    let url: String
    let provider: ScriptedProvider
    let server: LoopbackHTTPServer
    private let lock = NSLock()
    private var connections: [String: PostgresConnection] = [:]

    private init(url: String, provider: ScriptedProvider, server: LoopbackHTTPServer) {
        self.url = url
        self.provider = provider
        self.server = server
    }

    /// Runs `body` with a fresh fixture and tears it down afterwards.
    static func with<T: Sendable>(_ body: (EngineFixture) async throws -> T) async throws -> T {
        try await TestDatabase.with { url in
            let migrating = try await PostgresConnection.connect(url: url)
            _ = try await Migrator().migrate(migrating)
            migrating.close()
            let provider = ScriptedProvider()
            return try await LoopbackHTTPServer.withServer({ _ in health(of: provider) }) { server in
                let fixture = EngineFixture(url: url, provider: provider, server: server)
                // Connections close when the last engine using them is gone (closing one under a
                // run still using it would crash); dropping the database ends their sessions.
                defer { fixture.provider.abandon() }
                return try await body(fixture)
            }
        }
    }

    /// The health endpoint's answer: healthy while the platform serves a release that is not broken.
    private static func health(of provider: ScriptedProvider) -> LoopbackHTTPServer.Answer {
        if provider.isHealthy { return .healthy }
        return LoopbackHTTPServer.Answer(status: 503, body: provider.serving.map { "\($0) is broken" } ?? "nothing is deployed")
    }

    /// `main` as release.yml would describe it: the scripted provider, a health check against the
    /// loopback endpoint unless `health` is false, its `on_failure` and its `gates`.
    func main(
        health: Bool = true, onFailure: EnvironmentConfiguration.FailurePolicy = .rollback,
        gates: GatePolicy = GatePolicy()
    ) -> EnvironmentConfiguration {
        // Quick verdicts: two healthy answers in a row at once, or a failure after two seconds
        // (long enough for a loaded machine to answer a healthy release in time).
        let check = HealthCheckConfiguration(
            url: server.url(), timeout: .seconds(1), interval: .milliseconds(20), successes: 2,
            within: .seconds(2))
        return EnvironmentConfiguration(
            name: "main", provider: "scripted",
            providerSettings: ConfigReader(file: "release.yml", path: "environments.main.scripted", value: .null(line: 1)),
            gates: gates, health: health ? check : nil, onFailure: onFailure)
    }

    /// An engine for `actor` over the actor's connection, with `main` configured as given.
    func engine(
        actor: String = "alice", _ main: EnvironmentConfiguration? = nil, monitoring: MonitoringRegistry = MonitoringRegistry(),
        migrations: MigrationsConfiguration? = nil
    ) async throws -> Engine {
        let connection: PostgresConnection
        if let opened = lock.withLock({ connections[actor] }) {
            connection = opened
        } else {
            connection = try await PostgresConnection.connect(url: url)
            lock.withLock { connections[actor] = connection }
        }
        var configuration = ReleaseConfiguration(file: "release.yml", app: "crm-api", environments: [main ?? self.main()])
        configuration.migrations = migrations
        var registry = ProviderRegistry()
        let provider = self.provider
        registry.register("scripted") { _, _ in provider }
        let context = ProviderRegistry.ProviderContext(configurationDirectory: "/", environment: [:], output: { _ in })
        var engine = Engine(
            configuration: configuration, connection: connection, providers: registry, providerContext: context, actor: actor,
            progress: { _ in })
        engine.monitoring = monitoring
        return engine
    }

    // MARK: Set-up in the user's words

    /// `release create` for each version.
    func create(_ versions: String...) async throws {
        let engine = try await engine()
        for version in versions {
            _ = try await engine.createRelease(version: version, commit: nil, artifact: nil, notes: nil)
        }
    }

    /// `release deploy VERSION main`, which must succeed.
    @discardableResult
    func deploy(_ version: String, _ main: EnvironmentConfiguration? = nil, actor: String = "alice") async throws -> OperationReport {
        try await engine(actor: actor, main).run(OperationPlan(kind: .deploy, environment: main ?? self.main(), version: version))
    }

    /// `release deploy VERSION main` expected to fail: the error it ends with.
    func failingDeploy(_ version: String, _ main: EnvironmentConfiguration? = nil) async throws -> ReleaseError {
        try await failure { try await self.deploy(version, main) }
    }

    /// The `ReleaseError` that `body` ends with; a test failure when it ends otherwise.
    func failure<T: Sendable>(_ body: () async throws -> T) async throws -> ReleaseError {
        do {
            let value = try await body()
            throw ScriptError("expected a ReleaseError, got \(value)")
        } catch let error as ReleaseError {
            return error
        }
    }

    // MARK: What a user sees (`release status`, `history`, `audit`, `list`)

    /// `release status main`.
    func status() async throws -> EnvironmentStatus {
        guard let status = try await engine().status(environment: "main").first else { throw ScriptError("no status for main") }
        return status
    }

    /// `release history main`, newest first.
    func history() async throws -> [DeploymentRecord] {
        try await engine().history(environment: "main", limit: 50)
    }

    /// The actions of `release audit`, oldest first, without the `release.created` of set-up.
    func auditActions() async throws -> [String] {
        try await engine().audit(environment: nil, since: nil, until: nil, limit: nil).map(\.action).filter { $0 != "release.created" }
    }

    /// The release as `release list` shows it (quarantined or not).
    func release(_ version: String) async throws -> ReleaseRecord {
        guard let release = try await engine().releases(limit: 50).first(where: { $0.version == version }) else {
            throw ScriptError("no release \(version)")
        }
        return release
    }

    /// Changes the database as another run of `release` would (a dead process's lease, a run that
    /// took a deployment over), in one transaction.
    func database<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await engine(actor: "another run").connection.runTransaction(body)
    }
}
