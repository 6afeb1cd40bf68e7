/// What a provider is asked to do: make one release live in one environment.
public struct DeploymentRequest: Sendable {
    /// The app's name.
    public var app: String
    /// The target environment's configuration.
    public var environment: EnvironmentConfiguration
    /// The deployment's id in the database.
    public var deploymentID: Int64
    /// deploy, promote or rollback.
    public var kind: DeploymentKind
    /// The release to make live.
    public var release: ReleaseRecord
    /// The release live in the environment before this operation, if any.
    public var previous: ReleaseRecord?
    /// For promotions: what the source environment's provider recorded when the release went live there.
    public var sourceReference: JSONValue?
    /// For promotions: the source environment's configuration.
    public var sourceEnvironment: EnvironmentConfiguration?
    /// For rollbacks: what this environment's provider recorded when the target release went live here.
    public var targetReference: JSONValue?

    /// Creates a request.
    public init(
        app: String, environment: EnvironmentConfiguration, deploymentID: Int64, kind: DeploymentKind, release: ReleaseRecord,
        previous: ReleaseRecord? = nil, sourceReference: JSONValue? = nil, sourceEnvironment: EnvironmentConfiguration? = nil,
        targetReference: JSONValue? = nil
    ) {
        self.app = app
        self.environment = environment
        self.deploymentID = deploymentID
        self.kind = kind
        self.release = release
        self.previous = previous
        self.sourceReference = sourceReference
        self.sourceEnvironment = sourceEnvironment
        self.targetReference = targetReference
    }
}

/// What a provider reports once the platform serves the release (cutover).
public struct DeploymentOutcome: Sendable, Equatable {
    /// Identifiers worth keeping to roll back to this release later (a Heroku release id, a task
    /// definition ARN, a Railway deployment id). Never a secret.
    public var liveReference: JSONValue
    /// A short human summary, such as "Heroku release v42".
    public var summary: String

    /// Creates an outcome.
    public init(liveReference: JSONValue = .object([]), summary: String) {
        self.liveReference = liveReference
        self.summary = summary
    }
}

/// Records a provider operation reference in the database before the engine waits on it.
public typealias OperationRecorder = @Sendable (JSONValue) async throws -> Void

/// A platform that can make a release live: Heroku, Railway, a shell command, ….
public protocol DeploymentProvider: Sendable {
    /// Deploys (or promotes) the request's release. Calls `record` with every operation id the
    /// moment it exists, before waiting on it.
    func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome

    /// Puts the request's (older) release back, using `targetReference` where the platform has one.
    func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome

    /// Checks what must hold before any work starts (credentials present), so a missing token is
    /// a configuration error before anything is recorded.
    func preflight() throws

    /// Told the verification verdict once the engine has it (DigitalOcean commits or reverts a
    /// rollback here). `outcome` is what `deploy`/`rollback` reported at cutover.
    func settle(_ request: DeploymentRequest, outcome: JSONValue, healthy: Bool) async throws

    /// After a crash: finds out where the recorded operation stands and finishes following it.
    /// Throws `ProviderError` with `.failed` when it failed on the platform.
    func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome
}

extension DeploymentProvider {
    /// Nothing to check by default.
    public func preflight() throws {}

    /// Nothing to settle by default.
    public func settle(_ request: DeploymentRequest, outcome: JSONValue, healthy: Bool) async throws {}
}

/// A provider's failure, classified so the engine can pick the contract's exit code.
public struct ProviderError: Error, CustomStringConvertible, Sendable {
    /// The classes of failure.
    public enum Kind: Sendable, Equatable {
        /// The platform ran the operation and it failed (exit 1).
        case failed
        /// Credentials missing or rejected, or settings wrong (exit 2).
        case configuration
        /// The platform could not be reached or kept failing (exit 5).
        case unreachable
    }

    /// What the platform serves once the operation failed, as the provider saw it.
    public enum Serving: Sendable, Equatable {
        /// Not observed: the engine says it cannot tell rather than guess.
        case unknown
        /// What served before still serves; `observed` says how the provider knows, in the
        /// platform's words ("Railway deployment 4f1c… is still SUCCESS").
        case unchanged(observed: String)
        /// The release started serving and failed there (an ECS rollout that ended FAILED, a
        /// Railway deployment that took the traffic and CRASHED): the engine handles it like a
        /// failed verification, with quarantine and the automatic rollback.
        case failedRelease
    }

    /// The class.
    public var kind: Kind
    /// One sentence for people; never contains a secret (`Secrets` takes them out).
    public var message: String
    /// What the platform serves now, as far as the provider saw.
    public var serving: Serving

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, serving: Serving = .unknown) {
        self.kind = kind
        self.message = Secrets.redact(message)
        self.serving = serving
    }

    public var description: String { message }
}
