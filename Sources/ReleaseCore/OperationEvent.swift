/// Something worth telling the team: a promotion or rollback that went live, a failure, a freeze.
/// `action` uses the audit trail's names (`promote.live`, `rollback.live`, `promote.failed`,
/// `deploy.failed`, `rollback.failed`, `watch.failed`, `freeze.started`, `freeze.lifted`).
public struct OperationEvent: Sendable, Equatable {
    /// What happened, as the audit trail names it.
    public var action: String
    /// The app.
    public var app: String
    /// The environment.
    public var environment: String
    /// The release concerned (nil for freezes).
    public var version: String?
    /// The release live before (promotions, rollbacks).
    public var previousVersion: String?
    /// After a failure: the release the environment was rolled back to, if it was.
    public var rolledBackTo: String?
    /// Who acted.
    public var actor: String
    /// When (the database's clock).
    public var at: Timestamp
    /// The release's commit, if known.
    public var commit: String?
    /// A reason given (rollback, freeze, override).
    public var reason: String?
    /// One sentence for people, as the command printed it.
    public var message: String

    /// Creates an event.
    public init(
        action: String, app: String, environment: String, version: String? = nil, previousVersion: String? = nil,
        rolledBackTo: String? = nil, actor: String, at: Timestamp, commit: String? = nil, reason: String? = nil,
        message: String
    ) {
        self.action = action
        self.app = app
        self.environment = environment
        self.version = version
        self.previousVersion = previousVersion
        self.rolledBackTo = rolledBackTo
        self.actor = actor
        self.at = at
        self.commit = commit
        self.reason = reason
        self.message = message
    }

    /// Whether a rollback happened (asked for, or the engine's own after a failure).
    public var isRollback: Bool { action.hasPrefix("rollback.") || rolledBackTo != nil }

    /// Whether it reports a failure.
    public var isFailure: Bool { action.hasSuffix(".failed") }

    /// The event as plain JSON, the body of a `json` webhook.
    public var json: JSONValue {
        .object([
            ("event", .string(action)), ("app", .string(app)), ("environment", .string(environment)),
            ("version", .optional(version)), ("previous_version", .optional(previousVersion)),
            ("rolled_back_to", .optional(rolledBackTo)), ("actor", .string(actor)), ("at", .string(at.rfc3339)),
            ("commit", .optional(commit)), ("reason", .optional(reason)), ("message", .string(message)),
        ])
    }

    /// A short title: "crm-api: 1.2.0 promoted to main".
    public var title: String {
        let what = version ?? ""
        switch action {
        case "promote.live": return "\(app): \(what) promoted to \(environment)"
        case "deploy.live": return "\(app): \(what) deployed to \(environment)"
        case "rollback.live": return "\(app): \(environment) rolled back to \(what)"
        case "promote.failed": return "\(app): promotion of \(what) to \(environment) failed" + (rolledBackTo.map { ", rolled back to \($0)" } ?? "")
        case "deploy.failed": return "\(app): deploy of \(what) to \(environment) failed" + (rolledBackTo.map { ", rolled back to \($0)" } ?? "")
        case "rollback.failed": return "\(app): rollback of \(environment) to \(what) failed"
        case "watch.failed", "verify.failed":
            return "\(app): \(what) failed \(action == "watch.failed" ? "during a watch" : "its signals") on \(environment)"
                + (rolledBackTo.map { ", rolled back to \($0)" } ?? "")
        case "promote.held", "deploy.held":
            return "\(app): \(what) held on \(environment): live, not verified (signals inconclusive)"
        case "promote.observed", "deploy.observed":
            return "\(app): \(what)'s signals did not pass on \(environment) (observe mode, not deciding)"
        case "freeze.started": return "\(app): \(environment) frozen"
        case "freeze.lifted": return "\(app): \(environment) unfrozen"
        default: return "\(app): \(action) on \(environment)"
        }
    }
}
