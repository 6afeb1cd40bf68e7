import Postgres
import ReleaseCore
import ReleaseStore

extension Engine {
    /// `release verify ENV`: measures the signals of what is live there now, by the same rules as
    /// a deployment's verification (without waiting `after`: the cutover is past). A failure
    /// quarantines and rolls back (exit 1); an inconclusive result follows `on_inconclusive`
    /// (hold: exit 6, and what was verified stays verified); a pass verifies a held deployment.
    public func reverify(_ environment: EnvironmentConfiguration) async throws -> String {
        guard let plan = try signalPlan(for: environment) else {
            throw ReleaseError.usage("\(environment.name) has no `verify.signals` in \(configuration.file); there is nothing to measure.")
        }
        let (live, current) = try await liveDeployment(environment, toDo: "verify")
        let name = environment.name
        let version = live.release.version
        guard current.state != .verifying else {
            throw ReleaseError.busy(
                "\(version) is still being verified on \(name) (deployment \(live.id)); its own verification decides. See `release status \(name)`.")
        }
        let verdict = try await measureSignals(
            plan, deployment: live.id, release: live.release, environment: environment, cutover: current.since, waitFirst: false)
        if !verdict.configurationProblems.isEmpty {
            throw ReleaseError.usage(verdict.configurationProblems.joined(separator: " "))
        }
        var decided = verdict.outcome
        if decided == .inconclusive {
            switch plan.verify.onInconclusive {
            case .hold: break
            case .rollback: decided = .fail
            case .pass: decided = .pass
            }
        }
        let engine = self
        let outcome = decided
        if decided == .fail {
            do {
                let why = verdict.outcome == .fail ? "signals" : "signals inconclusive (on_inconclusive: rollback)"
                throw try await releaseFailed(live, finding: .reverification, detail: "\(why): \(verdict.summary)", provider: nil)
            } catch is NoLongerLive {
                return "\(version) is no longer live on \(name); what replaced it has its own verification."
            }
        }
        try await transaction { db in
            if outcome == .pass, current.isHeld {
                try db.markVerified(deployment: live.id, detail: "verified by `release verify`: \(verdict.summary)")
            }
            try db.appendAudit(
                app: live.appID, actor: engine.claimedActor, action: outcome == .pass ? "verify.passed" : "verify.inconclusive",
                environment: name, version: version,
                details: .object([("deployment", .int(live.id)), ("signals", .string(verdict.summary))]))
        }
        if decided == .inconclusive {
            let standing = current.isHeld ? "stays live and not verified" : "stays verified"
            throw ReleaseError.held(
                "\(version) on \(name): its signals were inconclusive (\(verdict.summary)); it \(standing). Decide: "
                    + "`release accept \(name) --reason …` or `release rollback \(name) --reason …`.")
        }
        if !plan.enforcing {
            return "Observed \(version) on \(name) (observe mode, not deciding): \(verdict.summary)."
        }
        return current.isHeld
            ? "\(version) on \(name) passed its signals and is now verified: \(verdict.summary)."
            : "\(version) on \(name) passed its signals: \(verdict.summary)."
    }

    /// `release accept ENV --reason TEXT`: a person allowed on the environment marks the deployment
    /// held there (live, its signals inconclusive) verified; audited.
    public func accept(_ environment: EnvironmentConfiguration, reason: String) async throws -> String {
        let allowed = PromotionGate.allowed(GateContext(kind: .deploy, environment: environment, actor: actor, now: .now, release: nil))
        guard allowed.passed else { throw ReleaseError.refused("\(allowed.detail).") }
        let engine = self
        let name = environment.name
        return try await transaction { [app] db in
            let appID = try db.ensureApp(named: app)
            let environmentID = try db.ensureEnvironment(app: appID, named: name)
            guard let live = try db.currentLive(environment: environmentID) else {
                throw ReleaseError.usage("Nothing is live on \(name), so there is nothing to accept.")
            }
            guard live.isHeld, let accepted = try db.accept(environment: environmentID, reason: Secrets.redact(reason), by: engine.claimedActor)
            else {
                let state = live.verified ? "verified already" : "\(live.state.rawValue), not held"
                throw ReleaseError.usage("\(live.version) on \(name) is \(state); only a release held after inconclusive signals is accepted.")
            }
            try db.appendAudit(
                app: appID, actor: engine.claimedActor, action: "deployment.accepted", environment: name, version: live.version,
                details: .object([("deployment", .int(accepted)), ("reason", .string(Secrets.redact(reason)))]))
            return "\(live.version) on \(name) is verified: accepted by \(engine.actor) (\(reason)). Promotions from it may go ahead."
        }
    }
}
