/// The verdict of one gate.
public struct GateResult: Sendable, Equatable {
    /// The gate: source, quarantine, checks, soak, approvals, freeze, allowed.
    public var name: String
    /// Whether it lets the operation through.
    public var passed: Bool
    /// One sentence for people.
    public var detail: String
    /// For time-based gates that fail now: the earliest instant they could pass.
    public var earliestPass: Timestamp?

    /// Creates a result.
    public init(name: String, passed: Bool, detail: String, earliestPass: Timestamp? = nil) {
        self.name = name
        self.passed = passed
        self.detail = detail
        self.earliestPass = earliestPass
    }
}

extension GateResult {
    /// The gate as JSON, the shape of `promote --dry-run --json` and of audit details.
    public var json: JSONValue {
        .object([
            ("name", .string(name)), ("passed", .bool(passed)), ("detail", .string(detail)),
            ("earliest", .optional(earliestPass?.rfc3339)),
        ])
    }
}

/// Everything the gates look at, read from one database snapshot.
public struct GateContext: Sendable {
    /// What is being attempted.
    public var kind: DeploymentKind
    /// The target environment.
    public var environment: EnvironmentConfiguration
    /// Who is attempting it.
    public var actor: String
    /// The database's clock at the snapshot.
    public var now: Timestamp
    /// The release that would go live.
    public var release: ReleaseRecord?
    /// For promotions: the source environment's name.
    public var sourceEnvironment: String?
    /// For promotions: what is live on the source.
    public var sourceLive: LiveRelease?
    /// For promotions: the version the user named with --version.
    public var requestedVersion: String?
    /// For promotions: the source's last health verdict (healthy, unhealthy, unknown).
    public var sourceHealth: String?
    /// For promotions: when the source last became healthy again after an unhealthy verdict.
    public var sourceRecoveredAt: Timestamp?
    /// The latest result of each CI check for the release.
    public var checks: [String: CheckStatus]
    /// Approvers of (environment, version) since the version went live on the source.
    public var approvers: [String]
    /// The person a CI run acts for: their own approval does not count either.
    public var onBehalfOf: String?
    /// Freezes started with `release freeze` that are active now.
    public var adHocFreezes: [AdHocFreeze]
    /// `--force --reason`: the reason, when a freeze override was asked for.
    public var forceReason: String?
    /// What the move crosses in the schema, when release.yml has `migrations:` (nil: no `schema` gate).
    public var schema: SchemaMove?

    /// Creates a context.
    public init(
        kind: DeploymentKind, environment: EnvironmentConfiguration, actor: String, now: Timestamp,
        release: ReleaseRecord?, sourceEnvironment: String? = nil, sourceLive: LiveRelease? = nil,
        requestedVersion: String? = nil, checks: [String: CheckStatus] = [:], approvers: [String] = [],
        adHocFreezes: [AdHocFreeze] = [], forceReason: String? = nil, sourceHealth: String? = nil,
        sourceRecoveredAt: Timestamp? = nil
    ) {
        self.kind = kind
        self.environment = environment
        self.actor = actor
        self.now = now
        self.release = release
        self.sourceEnvironment = sourceEnvironment
        self.sourceLive = sourceLive
        self.requestedVersion = requestedVersion
        self.checks = checks
        self.approvers = approvers
        self.onBehalfOf = nil
        self.adHocFreezes = adHocFreezes
        self.forceReason = forceReason
        self.sourceHealth = sourceHealth
        self.sourceRecoveredAt = sourceRecoveredAt
    }
}

/// The gates, evaluated purely from a `GateContext`.
public enum PromotionGate {
    /// Every gate that applies to the operation, in a fixed order, pass or fail.
    ///
    /// Rollbacks skip the CI, soak, approval and freeze gates (an incident does not wait) but not
    /// permissions or quarantine.
    public static func evaluate(_ context: GateContext) -> [GateResult] {
        var results: [GateResult] = []
        results.append(allowed(context))
        if context.kind == .promote { results.append(source(context)) }
        results.append(quarantine(context))
        if let move = context.schema { results.append(schema(move, kind: context.kind)) }
        if context.kind != .rollback {
            results.append(checks(context))
            if context.kind == .promote { results.append(soak(context)) }
            results.append(approvals(context))
            results.append(freeze(context))
        }
        return results
    }

    /// The `allowed:` gate alone (`release accept` asks it too).
    public static func allowed(_ context: GateContext) -> GateResult {
        let policy = context.environment.gates
        guard let allowed = policy.allowed else {
            return GateResult(name: "allowed", passed: true, detail: "anyone may operate on \(context.environment.name)")
        }
        if allowed.contains(context.actor) {
            return GateResult(name: "allowed", passed: true, detail: "\(context.actor) is allowed on \(context.environment.name)")
        }
        return GateResult(
            name: "allowed", passed: false,
            detail: "\(context.actor) may not operate on \(context.environment.name); allowed: \(allowed.joined(separator: ", "))")
    }

    static func source(_ context: GateContext) -> GateResult {
        let sourceName = context.sourceEnvironment ?? "the source"
        guard let live = context.sourceLive else {
            return GateResult(
                name: "source", passed: false,
                detail: "nothing is live on \(sourceName); deploy a release there first")
        }
        if let requested = context.requestedVersion, requested != live.version {
            return GateResult(
                name: "source", passed: false,
                detail: "\(requested) is not live on \(sourceName) (\(live.version) is); promote what is live there")
        }
        guard live.state == .live, live.verified else {
            return GateResult(
                name: "source", passed: false,
                detail: "\(live.version) on \(sourceName) is \(live.state.rawValue), not verified live")
        }
        return GateResult(name: "source", passed: true, detail: "\(live.version) is live and verified on \(sourceName)")
    }

    static func quarantine(_ context: GateContext) -> GateResult {
        guard let release = context.release else {
            return GateResult(name: "quarantine", passed: false, detail: "no release to deploy")
        }
        if release.isQuarantined {
            return GateResult(
                name: "quarantine", passed: false,
                detail: "\(release.version) is quarantined (\(release.quarantineReason ?? "no reason given")) and can never be "
                    + "deployed again")
        }
        return GateResult(name: "quarantine", passed: true, detail: "\(release.version) is not quarantined")
    }

    /// The `schema` gate: a move that leaves older code on migrations it cannot use (incompatible,
    /// or unknown) is refused unless acknowledged or accepted with `--accept-schema --reason`; a
    /// rollback across releases without records is refused the same way. Moves forward pass and
    /// list what they add.
    public static func schema(_ move: SchemaMove, kind: DeploymentKind) -> GateResult {
        let target = move.to
        guard let uncovered = move.uncovered, let removed = move.removed else {
            let unknown =
                "the migrations of \(move.from ?? "what is live") or \(target) were never recorded (created without --commit or "
                + "before `migrations:`)"
            if kind != .rollback { return GateResult(name: "schema", passed: true, detail: "unknown: \(unknown)") }
            if move.reverseRequested {
                return GateResult(name: "schema", passed: false, detail: "unknown: \(unknown); --reverse-migrations cannot tell what to reverse")
            }
            if let reason = move.acceptedReason {
                return GateResult(name: "schema", passed: true, detail: "unknown, accepted with --accept-schema (\(reason)): \(unknown)")
            }
            return GateResult(
                name: "schema", passed: false,
                detail: "unknown: \(unknown); check the schema yourself, then pass --accept-schema --reason TEXT")
        }
        let adds = move.added.map { $0.isEmpty ? "adds no migration" : "adds \(SchemaMove.listed($0))" } ?? "adds unknown migrations"
        if removed.isEmpty { return GateResult(name: "schema", passed: true, detail: adds) }
        if let reversal = move.reversal {
            return GateResult(
                name: "schema", passed: true,
                detail: "reverses \(SchemaMove.listed(removed)) before the code of \(target) goes back: "
                    + reversal.steps.map(\.described).joined(separator: "; ") + " (the reverse plan is read first)")
        }
        let undoes = "leaves \(SchemaMove.listed(removed)) applied under the code of \(target)"
        if uncovered.isEmpty {
            return GateResult(name: "schema", passed: true, detail: "\(undoes); each is compatible with it or acknowledged")
        }
        if let reason = move.acceptedReason {
            return GateResult(name: "schema", passed: true, detail: "\(undoes); accepted with --accept-schema (\(reason))")
        }
        return GateResult(
            name: "schema", passed: false,
            detail: "\(undoes); the code of \(target) cannot run on \(SchemaMove.listed(uncovered)). Roll forward with a fix, or, once "
                + "checked, `release migrations ack` it or pass --accept-schema --reason TEXT")
    }

    static func checks(_ context: GateContext) -> GateResult {
        let required = context.environment.gates.checks
        guard !required.isEmpty else { return GateResult(name: "checks", passed: true, detail: "no checks required") }
        let states = required.map { name in (name, context.checks[name]) }
        let missing = states.filter { $0.1 != .passed }
        let summary = states.map { "\($0.0) \($0.1?.rawValue ?? "missing")" }.joined(separator: ", ")
        return GateResult(name: "checks", passed: missing.isEmpty, detail: summary)
    }

    static func soak(_ context: GateContext) -> GateResult {
        guard let soak = context.environment.gates.soak else {
            return GateResult(name: "soak", passed: true, detail: "no soak time required")
        }
        guard let live = context.sourceLive else {
            return GateResult(name: "soak", passed: false, detail: "nothing is live on the source to soak")
        }
        let source = context.sourceEnvironment ?? "the source"
        if context.sourceHealth == "unhealthy" {
            return GateResult(
                name: "soak", passed: false,
                detail: "\(source)'s last health probe failed; the soak starts over once it is healthy again (`release probe "
                    + "\(source)`)")
        }
        // Live *and healthy* without a break: an unhealthy spell since cutover restarts the clock.
        var start = live.since
        var what = "live"
        if let recovered = context.sourceRecoveredAt, recovered > start {
            start = recovered
            what = "healthy again"
        }
        // Held after an inconclusive verification, it soaks from when a person accepted it.
        if let accepted = live.acceptedAt, accepted > start {
            start = accepted
            what = "accepted"
        }
        let ready = start.adding(soak)
        if context.now >= ready {
            return GateResult(
                name: "soak", passed: true,
                detail: "\(what) on \(source) for \(context.now.since(start).roundedDown) (needs \(soak))")
        }
        return GateResult(
            name: "soak", passed: false,
            detail: "\(what) on \(source) for \(context.now.since(start).roundedDown), needs \(soak); passes at \(ready)",
            earliestPass: ready)
    }

    static func approvals(_ context: GateContext) -> GateResult {
        let needed = context.environment.gates.approvals
        guard needed > 0 else { return GateResult(name: "approvals", passed: true, detail: "no approvals required") }
        let distinct = Array(Set(context.approvers)).sorted()
        let own = [context.actor, context.onBehalfOf].compactMap { $0 }
        let counted = distinct.filter { !own.contains($0) }
        var detail = "\(counted.count) of \(needed) approvals"
        if !counted.isEmpty { detail += " (\(counted.joined(separator: ", ")))" }
        for person in own where distinct.contains(person) { detail += "; \(person)'s own approval does not count" }
        return GateResult(name: "approvals", passed: counted.count >= needed, detail: detail)
    }

    static func freeze(_ context: GateContext) -> GateResult {
        let (active, end) = activeFreezes(context)
        guard !active.isEmpty else {
            return GateResult(name: "freeze", passed: true, detail: "\(context.environment.name) is not frozen")
        }
        let reasons = active.joined(separator: "; ")
        if let reason = context.forceReason, context.environment.gates.allows(context.actor) {
            return GateResult(
                name: "freeze", passed: true,
                detail: "frozen (\(reasons)), overridden by \(context.actor): \(reason)")
        }
        var detail = "\(context.environment.name) is frozen (\(reasons))"
        if let end {
            detail += " until \(end)"
        } else {
            detail += " until `release unfreeze \(context.environment.name)`"
        }
        return GateResult(name: "freeze", passed: false, detail: detail, earliestPass: end)
    }

    /// The reasons of every freeze active now, and the instant all of them (chained) are over;
    /// `nil` when an ad-hoc freeze has no end.
    public static func activeFreezes(_ context: GateContext) -> (reasons: [String], end: Timestamp?) {
        let windows = context.environment.gates.freezes
        var reasons = windows.filter { $0.activeEnd(at: context.now) != nil }.map(\.reason)
        let adHoc = context.adHocFreezes.filter { $0.isActive(at: context.now) }
        reasons += adHoc.map { "\($0.reason), by \($0.by)" }
        guard !reasons.isEmpty else { return ([], nil) }
        if adHoc.contains(where: { $0.until == nil }) { return (reasons, nil) }
        // Freezes can abut or overlap: follow them until an instant that none covers.
        var instant = context.now
        for _ in 0..<64 {
            var latest: Timestamp?
            for window in windows {
                if let end = window.activeEnd(at: instant) { latest = max(latest ?? end, end) }
            }
            for freeze in context.adHocFreezes where freeze.isActive(at: instant) {
                guard let until = freeze.until else { return (reasons, nil) }
                latest = max(latest ?? until, until)
            }
            guard let next = latest else { return (reasons, instant) }
            instant = next
        }
        return (reasons, instant)
    }
}

extension TimeSpan {
    /// The span without its sub-second part, for messages.
    var roundedDown: TimeSpan {
        TimeSpan(microseconds: microseconds - microseconds % 1_000_000)
    }
}
