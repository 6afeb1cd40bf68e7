import ReleaseCore

/// What the user asked for, before anything is resolved against the database.
public struct OperationPlan: Sendable {
    /// deploy, promote or rollback.
    public var kind: DeploymentKind
    /// The target environment.
    public var environment: EnvironmentConfiguration
    /// deploy: the version; promote: `--version`; rollback: `--to`.
    public var version: String?
    /// promote: the source environment.
    public var source: EnvironmentConfiguration?
    /// rollback: `--reason`; promote/deploy with `--force`: the override reason.
    public var reason: String?
    /// Whether `--force` was given (freeze override).
    public var force: Bool
    /// Whether `--accept-schema` was given: the move may leave code on migrations it cannot use
    /// (`reason` says why; audited).
    public var acceptSchema = false
    /// rollback: whether `--reverse-migrations` was given: `reverse:` undoes what the target lacks
    /// before the code goes back.
    public var reverseMigrations = false
    /// What the reverse plan was read for, before anything was stored; the gating transaction
    /// refuses to start when what is live changed since.
    var plannedReversal: MigrationReversal?
    /// Whether the outcome is announced (notify:); the engine's own rollbacks are announced with
    /// the failure that caused them instead.
    public var announce = true

    /// Creates a plan.
    public init(
        kind: DeploymentKind, environment: EnvironmentConfiguration, version: String? = nil,
        source: EnvironmentConfiguration? = nil, reason: String? = nil, force: Bool = false
    ) {
        self.kind = kind
        self.environment = environment
        self.version = version
        self.source = source
        self.reason = reason
        self.force = force
    }
}

/// A deployment the engine has committed to `deploying`, with everything the provider needs.
struct StartedDeployment: Sendable {
    var id: Int64
    var appID: Int64
    var environmentID: Int64
    var kind: DeploymentKind
    var environment: EnvironmentConfiguration
    var release: ReleaseRecord
    var previous: ReleaseRecord?
    var sourceEnvironment: EnvironmentConfiguration?
    var sourceReference: JSONValue?
    var targetReference: JSONValue?
    var rollbackOf: Int64?
    var announce = true
    var reason: String?

    var request: DeploymentRequest {
        DeploymentRequest(
            app: "", environment: environment, deploymentID: id, kind: kind, release: release, previous: previous,
            sourceReference: sourceReference, sourceEnvironment: sourceEnvironment, targetReference: targetReference)
    }
}

/// How an operation ended, for the CLI to print.
public struct OperationReport: Sendable {
    /// The deployment's id.
    public var deploymentID: Int64
    /// deploy, promote or rollback.
    public var kind: DeploymentKind
    /// The environment.
    public var environment: String
    /// The version now live.
    public var version: String
    /// The version that was live before, if any.
    public var previousVersion: String?
    /// The gates evaluated.
    public var gates: [GateResult]
    /// When it went live (cutover).
    public var since: Timestamp?
    /// One sentence.
    public var message: String
}

/// What resolving a plan against one snapshot found.
struct Resolution: Sendable {
    var appID: Int64
    var environmentID: Int64
    var release: ReleaseRecord?
    var current: LiveRelease?
    var previous: ReleaseRecord?
    var sourceLive: LiveRelease?
    var sourceDeployment: DeploymentRecord?
    var rollbackTarget: DeploymentRecord?
    var gates: [GateResult]
    var context: GateContext
    /// The id the deployment will have (reserved with the last reads; nil in a dry run).
    var deploymentID: Int64?

    var refused: [GateResult] { gates.filter { !$0.passed } }
}
