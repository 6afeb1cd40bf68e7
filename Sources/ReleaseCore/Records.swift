/// A registered release: a version, the commit it was built from and the artifact to ship.
public struct ReleaseRecord: Sendable, Equatable {
    /// Database id.
    public var id: Int64
    /// The version, such as 1.4.2.
    public var version: String
    /// The commit the release was built from.
    public var commit: String?
    /// The artifact to deploy: a tarball URL, an image reference, a path.
    public var artifact: String?
    /// Free-form notes.
    public var notes: String?
    /// When it was registered.
    public var createdAt: Timestamp
    /// Who registered it.
    public var createdBy: String
    /// When it was quarantined, if it was.
    public var quarantinedAt: Timestamp?
    /// Why it was quarantined.
    public var quarantineReason: String?

    /// Creates a record.
    public init(
        id: Int64, version: String, commit: String?, artifact: String?, notes: String?, createdAt: Timestamp,
        createdBy: String, quarantinedAt: Timestamp? = nil, quarantineReason: String? = nil
    ) {
        self.id = id
        self.version = version
        self.commit = commit
        self.artifact = artifact
        self.notes = notes
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.quarantinedAt = quarantinedAt
        self.quarantineReason = quarantineReason
    }

    /// Whether the release may never be deployed again.
    public var isQuarantined: Bool { quarantinedAt != nil }
}

/// A CI check result.
public enum CheckStatus: String, Sendable, CaseIterable {
    case passed, failed, pending
}

/// A freeze started with `release freeze`.
public struct AdHocFreeze: Sendable, Equatable {
    /// Why.
    public var reason: String
    /// When it ends by itself, if ever.
    public var until: Timestamp?
    /// Who froze the environment.
    public var by: String
    /// When.
    public var since: Timestamp

    /// Creates a freeze record.
    public init(reason: String, until: Timestamp?, by: String, since: Timestamp) {
        self.reason = reason
        self.until = until
        self.by = by
        self.since = since
    }

    /// In force at `now`: started and not yet over.
    public func isActive(at now: Timestamp) -> Bool {
        since <= now && (until.map { $0 > now } ?? true)
    }
}

/// One deployment row as the engine and the CLI see it.
public struct DeploymentRecord: Sendable, Equatable {
    public var id: Int64
    public var environment: String
    public var version: String
    public var releaseID: Int64
    public var kind: DeploymentKind
    public var state: DeploymentState
    public var by: String
    public var startedAt: Timestamp
    public var finishedAt: Timestamp?
    /// The provider's operation references, recorded write-ahead.
    public var operation: JSONValue
    /// What the provider reported when the release went live (used later to roll back to it).
    public var liveReference: JSONValue
    /// Whether health verification passed.
    public var verified: Bool
    /// The deployment this one rolls back, for automatic rollbacks.
    public var rollbackOf: Int64?
    /// Why it failed, was rejected, or was started (reason).
    public var detail: String?
    /// Who holds the lease while in flight.
    public var leaseOwner: String?
    /// When the lease runs out.
    public var leaseExpiresAt: Timestamp?
    /// For promotions: the source environment's deployment whose artifact is promoted.
    public var sourceDeploymentID: Int64?
    /// The reason the user gave (rollback, force).
    public var reason: String?
    /// When the provider reported cutover.
    public var cutoverAt: Timestamp?
    /// The login the database verified (nil when identity was claimed, not checked).
    public var login: String?
    /// The person a CI run acted for.
    public var onBehalfOf: String?
    /// Its signals' verdict (`verify:`), nil when no signal was measured.
    public var signalVerdict: SignalOutcome?
    /// When `release accept` verified it after an inconclusive verification.
    public var acceptedAt: Timestamp?
    /// Its signals' verdicts, in release.yml's order (read with the history).
    public var signals: [SignalVerdictRecord] = []

    /// Creates a record.
    public init(
        id: Int64, environment: String, version: String, releaseID: Int64, kind: DeploymentKind, state: DeploymentState,
        by: String, startedAt: Timestamp, finishedAt: Timestamp? = nil, operation: JSONValue = .object([]),
        liveReference: JSONValue = .object([]), verified: Bool = false, rollbackOf: Int64? = nil, detail: String? = nil,
        leaseOwner: String? = nil, leaseExpiresAt: Timestamp? = nil, sourceDeploymentID: Int64? = nil, reason: String? = nil,
        cutoverAt: Timestamp? = nil, login: String? = nil, onBehalfOf: String? = nil, signalVerdict: SignalOutcome? = nil,
        acceptedAt: Timestamp? = nil
    ) {
        self.id = id
        self.environment = environment
        self.version = version
        self.releaseID = releaseID
        self.kind = kind
        self.state = state
        self.by = by
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.operation = operation
        self.liveReference = liveReference
        self.verified = verified
        self.rollbackOf = rollbackOf
        self.detail = detail
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.sourceDeploymentID = sourceDeploymentID
        self.reason = reason
        self.cutoverAt = cutoverAt
        self.login = login
        self.onBehalfOf = onBehalfOf
        self.signalVerdict = signalVerdict
        self.acceptedAt = acceptedAt
    }
}

/// One signal's verdict for a deployment, as stored after each of its measurements.
public struct SignalVerdictRecord: Sendable, Equatable {
    /// The signal's name.
    public var name: String
    /// prometheus, datadog, cloudwatch or sentry.
    public var monitor: String
    /// False in `mode: observe`: measured and shown, never deciding.
    public var enforcing: Bool
    /// measuring, pass, inconclusive or fail.
    public var verdict: String
    /// The latest value, when the answer was a number.
    public var value: Double?
    /// The latest measurement in words, with the query asked.
    public var detail: String
    /// How many measurements there were.
    public var measurements: Int

    /// Creates a record.
    public init(name: String, monitor: String, enforcing: Bool, verdict: String, value: Double?, detail: String, measurements: Int) {
        self.name = name
        self.monitor = monitor
        self.enforcing = enforcing
        self.verdict = verdict
        self.value = value
        self.detail = detail
        self.measurements = measurements
    }
}

/// What occupies an environment now: the release since its cutover.
public struct LiveRelease: Sendable, Equatable {
    /// The release's version.
    public var version: String
    /// The release's id.
    public var releaseID: Int64
    /// The instant the provider reported cutover.
    public var since: Timestamp
    /// Who made it live.
    public var by: String
    /// The deployment that made it live.
    public var deploymentID: Int64
    /// That deployment's state (verifying, live, failed, …).
    public var state: DeploymentState
    /// Whether it passed verification.
    public var verified: Bool
    /// When `release accept` verified it after an inconclusive verification (the soak counts from then).
    public var acceptedAt: Timestamp?

    /// Creates a value.
    public init(
        version: String, releaseID: Int64, since: Timestamp, by: String, deploymentID: Int64, state: DeploymentState, verified: Bool,
        acceptedAt: Timestamp? = nil
    ) {
        self.version = version
        self.releaseID = releaseID
        self.since = since
        self.by = by
        self.deploymentID = deploymentID
        self.state = state
        self.verified = verified
        self.acceptedAt = acceptedAt
    }

    /// Live but not verified: its verification was inconclusive and `on_inconclusive` held it.
    public var isHeld: Bool { state == .live && !verified }
}
