import Foundation
import Logging
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

/// The only place that sequences side effects: deploy, promote, rollback, recover.
///
/// Every step is written ahead: the state being entered (and any provider operation id) is
/// committed before the engine waits on anything, so a run killed at any instant leaves enough
/// behind for `release recover`.
public struct Engine: Sendable {
    /// The parsed release.yml.
    public let configuration: ReleaseConfiguration
    /// The database connection.
    public let connection: PostgresConnection
    /// Builds providers for environments.
    public let providers: ProviderRegistry
    /// What providers get besides their block.
    public let providerContext: ProviderRegistry.ProviderContext
    /// Runs health probes.
    public let prober: HealthProber
    /// Who is acting: under enforced identity, the person the database says the login is.
    public let actor: String
    /// The person a CI run acts for (an automation login granted on-behalf), recorded beside the
    /// actor; never the one `allowed:` judges.
    public var onBehalfOf: String?
    /// This run's identity on leases: host, pid and a random part.
    public let leaseOwner: String
    /// How long a lease lasts without a heartbeat.
    public let leaseSeconds: Int
    /// Progress messages for people.
    public let progress: @Sendable (String) -> Void
    /// Debug log.
    public let logger: Logger
    /// Told about promotions, rollbacks and failures as they end (notifications); never fails them.
    public var observer: (@Sendable (OperationEvent) async -> Void)?
    /// The process environment, for git during branch sync.
    public var processEnvironment: [String: String] = ProcessEnvironment.current
    /// Builds the sources that measure `verify:` signals and the deploy markers `markers:` asks for.
    public var monitoring = MonitoringRegistry()

    /// Creates an engine.
    public init(
        configuration: ReleaseConfiguration, connection: PostgresConnection, providers: ProviderRegistry = ProviderRegistry(),
        providerContext: ProviderRegistry.ProviderContext, prober: HealthProber = HealthProber(), actor: String,
        leaseSeconds: Int = 30, progress: @escaping @Sendable (String) -> Void, logger: Logger = Logger(label: "release")
    ) {
        self.configuration = configuration
        self.connection = connection
        self.providers = providers
        self.providerContext = providerContext
        self.prober = prober
        self.actor = actor
        self.leaseOwner = LeaseOwner.current()
        self.leaseSeconds = leaseSeconds
        self.progress = progress
        self.logger = logger
    }

    var app: String { configuration.app }

    /// The name sent with every write: the database records the verified person itself under
    /// enforced identity, and this as on_behalf_of when it differs; before that, it is the actor.
    var claimedActor: String { onBehalfOf ?? actor }

    /// Runs a database step, turning connection failures into the contract's exit 5.
    func database<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await DatabaseFailure.run(connection, body)
    }

    /// Runs a transaction, turning connection failures into the contract's exit 5.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try await connection.runTransaction(body)
        } catch let error as PostgresError {
            throw DatabaseFailure.translate(error)
        }
    }

    func provider(for environment: EnvironmentConfiguration) throws -> any DeploymentProvider {
        try providers.provider(for: environment, context: providerContext)
    }
}

/// Names this run on a lease, so a later run can tell whether the owner is still alive.
public enum LeaseOwner {
    /// `host:pid:random`.
    public static func current() -> String {
        let host = ProcessInfo.processInfo.hostName
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(host):\(getpid()):\(random)"
    }

    /// True when the owner ran on this host and its process no longer exists.
    public static func isDead(_ owner: String?) -> Bool {
        guard let owner else { return true }
        let parts = owner.split(separator: ":")
        guard parts.count == 3, String(parts[0]) == ProcessInfo.processInfo.hostName, let pid = Int32(parts[1]) else {
            return false
        }
        if pid == getpid() { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}
