import ReleaseCore

/// The `--json` shapes of the reports, shared by the CLI and the dashboard's API so that both
/// answer with the same keys (docs/reference.md, "JSON output"). Data, no I/O.
public enum ReportJSON {
    /// A release, as `create` and `list` print it.
    public static func release(_ release: ReleaseRecord) -> JSONValue {
        .object([
            ("version", .string(release.version)), ("commit", .optional(release.commit)), ("artifact", .optional(release.artifact)),
            ("notes", .optional(release.notes)), ("created_at", .string(release.createdAt.rfc3339)), ("by", .string(release.createdBy)),
            ("quarantined", .bool(release.isQuarantined)), ("quarantine_reason", .optional(release.quarantineReason)),
        ])
    }

    /// How a deployment's verification came out, with its signals (`verify:`); null before it
    /// reached verification. Verdicts: measuring, pass, inconclusive (live, not verified: held), fail.
    public static func verification(
        state: DeploymentState, verified: Bool, acceptedAt: Timestamp?, signals: [SignalVerdictRecord]
    ) -> JSONValue {
        let verdict: String
        switch state {
        case .pending, .gating, .deploying, .rejected, .cancelled: return .null
        case .verifying: verdict = "measuring"
        case .failed, .rolledBack: verdict = "fail"
        case .live, .superseded: verdict = verified ? "pass" : "inconclusive"
        }
        return .object([
            ("verdict", .string(verdict)), ("accepted_at", .optional(acceptedAt?.rfc3339)),
            (
                "signals",
                .array(
                    signals.map { signal in
                        .object([
                            ("name", .string(signal.name)), ("verdict", .string(signal.verdict)),
                            ("value", signal.value.map { $0.isFinite ? .double($0) : .string("\($0)") } ?? .null),
                            ("detail", .string(signal.detail)), ("monitor", .string(signal.monitor)), ("enforcing", .bool(signal.enforcing)),
                            ("measurements", .int(Int64(signal.measurements))),
                        ])
                    })
            ),
        ])
    }

    /// A deployment, as `history` prints it, with its signals' verdicts.
    public static func deployment(_ deployment: DeploymentRecord) -> JSONValue {
        .object([
            ("id", .int(deployment.id)), ("environment", .string(deployment.environment)), ("version", .string(deployment.version)),
            ("kind", .string(deployment.kind.rawValue)), ("state", .string(deployment.state.rawValue)), ("by", .string(deployment.by)),
            ("login", .optional(deployment.login)), ("on_behalf_of", .optional(deployment.onBehalfOf)),
            ("started_at", .string(deployment.startedAt.rfc3339)), ("finished_at", .optional(deployment.finishedAt?.rfc3339)),
            ("reason", .optional(deployment.reason)), ("detail", .optional(deployment.detail)),
            (
                "verification",
                verification(
                    state: deployment.state, verified: deployment.verified, acceptedAt: deployment.acceptedAt, signals: deployment.signals)
            ),
        ])
    }

    /// One environment, as `status` prints it.
    public static func environment(_ status: EnvironmentStatus) -> JSONValue {
        .object([
            ("name", .string(status.name)),
            (
                "live",
                status.live.map { live in
                    .object([
                        ("version", .string(live.version)), ("since", .string(live.since.rfc3339)), ("by", .string(live.by)),
                        ("state", .string(live.state.rawValue)),
                    ])
                } ?? .null
            ),
            (
                "verification",
                status.live.map {
                    verification(state: $0.state, verified: $0.verified, acceptedAt: $0.acceptedAt, signals: status.signals)
                } ?? .null
            ),
            ("health", .string(status.health)),
            ("health_detail", .optional(status.healthDetail)),
            (
                "in_flight",
                status.inFlight.map { deployment in
                    .object([
                        ("id", .int(deployment.id)), ("kind", .string(deployment.kind.rawValue)), ("version", .string(deployment.version)),
                        ("state", .string(deployment.state.rawValue)), ("by", .string(deployment.by)),
                        ("started_at", .string(deployment.startedAt.rfc3339)), ("detail", .optional(deployment.detail)),
                    ])
                } ?? .null
            ),
            ("frozen", .bool(!status.freezeReasons.isEmpty)),
            (
                "freeze",
                status.freezeReasons.isEmpty
                    ? .null
                    : .object([
                        ("reasons", .array(status.freezeReasons.map(JSONValue.string))), ("until", .optional(status.frozenUntil?.rfc3339)),
                    ])
            ),
        ])
    }

    /// An audit event, as `audit --json` prints it.
    public static func auditEvent(_ event: AuditEvent) -> JSONValue {
        .object([
            ("id", .int(event.id)), ("sequence", .int(event.sequence)), ("at", .string(event.at.rfc3339)),
            ("actor", .string(event.actor)), ("login", .optional(event.login)), ("on_behalf_of", .optional(event.onBehalfOf)),
            ("action", .string(event.action)), ("environment", .optional(event.environment)),
            ("version", .optional(event.version)), ("details", JSONValue(parsing: event.details) ?? .string(event.details)),
            ("hash", .string(event.hash)),
        ])
    }

    /// One environment of `audit --at`.
    public static func liveAt(environment name: String, _ release: LiveRelease?) -> JSONValue {
        .object([
            ("name", .string(name)), ("version", .optional(release?.version)), ("since", .optional(release?.since.rfc3339)),
            ("by", .optional(release?.by)),
        ])
    }

    /// An error, as the CLI prints it with `--json` and the dashboard's API answers it:
    /// `{"error": {"code", "kind", "message"}}`, `code` being the exit code the CLI ends with.
    public static func error(_ code: ReleaseError.Code, _ message: String) -> JSONValue {
        .object([("error", .object([("code", .int(Int64(code.rawValue))), ("kind", .string(code.name)), ("message", .string(message))]))])
    }

    /// Adds `key: value` in front of an object's keys (the dashboard's API names the app).
    public static func prefixed(_ key: String, _ value: JSONValue, to object: JSONValue) -> JSONValue {
        guard case let .object(pairs) = object else { return object }
        return .object([(key, value)] + pairs)
    }
}
