/// Where one deployment stands. The database enforces the same transition table with a trigger,
/// so no client can skip a state.
public enum DeploymentState: String, CaseIterable, Sendable, Codable {
    /// Recorded, not yet checked against the gates.
    case pending
    /// The gates are being evaluated against one snapshot.
    case gating
    /// The provider has been asked to make the release live.
    case deploying
    /// The provider reported cutover; health probes are running.
    case verifying
    /// Verified healthy and serving.
    case live
    /// A later release went live in the same environment.
    case superseded
    /// A gate refused it; nothing reached the provider.
    case rejected
    /// Abandoned before anything reached the provider.
    case cancelled
    /// The provider or the verification failed.
    case failed
    /// Failed, and a rollback put the previous release back.
    case rolledBack = "rolled_back"

    /// The states a deployment may move to from this one.
    public var successors: Set<DeploymentState> {
        switch self {
        case .pending: [.gating, .cancelled]
        case .gating: [.deploying, .rejected, .cancelled]
        case .deploying: [.verifying, .failed]
        case .verifying: [.live, .failed]
        case .live: [.superseded]
        case .failed: [.rolledBack]
        case .superseded, .rejected, .cancelled, .rolledBack: []
        }
    }

    /// Whether moving to `next` is allowed.
    public func canMove(to next: DeploymentState) -> Bool {
        successors.contains(next)
    }

    /// States in which a deployment occupies its environment's single in-flight slot.
    public static let inFlight: Set<DeploymentState> = [.pending, .gating, .deploying, .verifying]

    /// Whether this deployment holds the environment's in-flight slot.
    public var isInFlight: Bool { Self.inFlight.contains(self) }

    /// The state every deployment starts in.
    public static let initial: DeploymentState = .pending
}

/// Why a deployment was started.
public enum DeploymentKind: String, CaseIterable, Sendable, Codable {
    /// `release deploy VERSION ENV`.
    case deploy
    /// `release promote FROM TO`.
    case promote
    /// `release rollback ENV`, or the engine's own rollback after a failed verification.
    case rollback
}
