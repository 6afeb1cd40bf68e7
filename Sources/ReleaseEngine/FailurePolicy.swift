import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

/// What found a release bad where it serves.
enum Finding: Sendable {
    /// The deployment's own verification after cutover.
    case verification
    /// The platform: the release started serving and then failed there (an ECS rollout that ended
    /// FAILED, a Railway deployment that CRASHED after taking the traffic).
    case platform
    /// `release watch`: what failed (`its health probe`, confirmed by a full verification, or
    /// `its signals`) while it watched what is live.
    case watch(String)
    /// `release verify`: the signals, measured again on what is live.
    case reverification

    /// The opening sentence of every message about it.
    func headline(_ bad: StartedDeployment, _ detail: String) -> String {
        let (version, name) = (bad.release.version, bad.environment.name)
        switch (self, bad.kind) {
        case (.verification, .rollback): return "Rollback of \(name) to \(version) failed verification (\(detail))"
        case (.verification, _): return "Verification of \(version) on \(name) failed (\(detail))"
        case (.platform, .rollback): return "Rollback of \(name) to \(version) failed on the platform after it went live (\(detail))"
        case (.platform, _): return "\(version) failed on \(name) after the platform put it live (\(detail))"
        case (.watch(let what), .rollback): return "\(version) on \(name) was put there by a rollback and failed \(what) (\(detail))"
        case (.watch(let what), _): return "\(version) failed \(what) on \(name) during the watch (\(detail))"
        case (.reverification, .rollback): return "\(version) on \(name) was put there by a rollback and failed its signals (\(detail))"
        case (.reverification, _): return "\(version) failed its signals on \(name) when measured again (\(detail))"
        }
    }

    /// Why the release is quarantined, as stored with it.
    func quarantineReason(_ bad: StartedDeployment, _ detail: String) -> String {
        switch self {
        case .verification, .platform: "failed verification on \(bad.environment.name): \(detail)"
        case .watch(let what): "failed \(what) on \(bad.environment.name) during a watch: \(detail)"
        case .reverification: "failed its signals on \(bad.environment.name) when measured again: \(detail)"
        }
    }

    /// The audit action that records the finding, and the notification's action.
    func actions(_ kind: DeploymentKind) -> (audit: String, announced: String) {
        switch self {
        case .verification, .platform: ("\(kind.rawValue).verification_failed", "\(kind.rawValue).failed")
        case .watch: ("watch.failed", "watch.failed")
        case .reverification: ("verify.failed", "verify.failed")
        }
    }
}

/// What the watch found bad was replaced while it looked: nothing to do about it.
struct NoLongerLive: Error {}

extension Engine {
    /// The one rule for a release found bad where it serves, whichever check found it: the
    /// finding is audited and the release quarantined (unless a rollback put it there: a rollback
    /// is never rolled back, the environment is degraded and needs a human); with `on_failure:
    /// rollback` the engine then rolls back to the last verified release itself, through the
    /// gates every rollback passes (`allowed:`, never a freeze), announcing the failure once.
    ///
    /// Returns the error the command ends with; throws `NoLongerLive` when what the watch found bad
    /// has been replaced meanwhile (what replaced it has its own verification). `provider` is the
    /// one already driving the deployment; the watch passes nil and the provider is made here.
    func releaseFailed(
        _ bad: StartedDeployment, finding: Finding, detail: String,
        provider: (any DeploymentProvider)?, probed: ProbeVerdict? = nil
    ) async throws -> ReleaseError {
        let engine = self
        let environment = bad.environment
        let automatic = bad.kind != .rollback && environment.onFailure == .rollback
        var rollbackProvider = provider
        var cannotStart: ReleaseError?
        if automatic, rollbackProvider == nil {
            do {
                let made = try self.provider(for: environment)
                try made.preflight()
                rollbackProvider = made
            } catch let error as ReleaseError {
                cannotStart = error
            } catch {
                cannotStart = .usage("\(error)")
            }
        }
        let headline = finding.headline(bad, detail)
        progress("\(headline).")
        let quarantine = bad.kind != .rollback
        let planned = automatic && cannotStart == nil
        let (rollback, blocked): (StartedDeployment?, ReleaseError?) = try await transaction { db in
            switch finding {
            case .verification, .platform:
                try engine.requireLease(bad, in: db)
                try db.transition(deployment: bad.id, to: .failed, detail: "verification failed: \(detail)")
            case .watch, .reverification:
                guard try db.currentLive(environment: bad.environmentID)?.deploymentID == bad.id else { throw NoLongerLive() }
            }
            try engine.record(probed, of: bad, in: db)
            if quarantine {
                try db.quarantine(release: bad.release.id, reason: finding.quarantineReason(bad, detail))
            }
            try db.appendAudit(
                app: bad.appID, actor: engine.claimedActor, action: finding.actions(bad.kind).audit,
                environment: environment.name, version: bad.release.version,
                details: .object([
                    ("deployment", .int(bad.id)), ("detail", .string(detail)),
                    ("quarantined", .bool(quarantine)),
                ]))
            guard planned,
                let target = try db.lastVerified(environment: bad.environmentID, excludingRelease: bad.release.id),
                let targetRelease = try db.release(id: target.releaseID)
            else { return (nil, nil) }
            var context = GateContext(kind: .rollback, environment: environment, actor: engine.actor, now: .now, release: targetRelease)
            // An automatic rollback never crosses an incompatible migration: no one accepted it.
            let live = LiveRelease(
                version: bad.release.version, releaseID: bad.release.id, since: .now, by: "", deploymentID: bad.id, state: .live,
                verified: false)
            context.schema = try engine.schemaMove(from: live, to: targetRelease, acceptedReason: nil, in: db)
            let gates = PromotionGate.evaluate(context)
            let refused = gates.filter { !$0.passed }
            if !refused.isEmpty {
                let reasons = refused.map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
                return (
                    nil,
                    .refused(
                        "its gates refused it (\(reasons)); someone they allow can run `release rollback \(environment.name) "
                            + "--reason …`.")
                )
            }
            do {
                return (try engine.startAutomaticRollback(of: bad, to: targetRelease, target: target, in: db), nil)
            } catch let error as ReleaseError where error.code == .busy {
                return (nil, error)
            }
        }
        await mark(.verificationFailed, release: bad.release, in: environment, appID: bad.appID, message: "\(headline).")
        FaultPoint.afterRollbackStarted.reached()
        let (version, name) = (bad.release.version, environment.name)
        let stillServing = "\(version) is quarantined and still serving on \(name)"
        if bad.kind == .rollback {
            return await failure(
                bad, finding,
                "\(headline). A rollback is never rolled back: \(name) is degraded and needs a human: check the "
                    + "platform, then deploy a known-good release.")
        }
        if !automatic {
            return await failure(
                bad, finding,
                "\(headline). \(stillServing): on_failure is stop. Run `release rollback \(name) --reason …`, or "
                    + "\(Self.shipAFix(to: environment).lowercasedFirst)")
        }
        if let blocked = cannotStart ?? blocked {
            // Refused by its gates, the failed release still serves: a failure (1). Busy (4) and
            // unreachable (5) say why it could not start; a provider's settings error is 2.
            return await failure(
                bad, finding, "\(headline). \(stillServing): the automatic rollback could not start: \(blocked.message)",
                code: blocked.code == .refused ? .deploymentFailed : blocked.code)
        }
        guard let rollback, let rollbackProvider else {
            // With no earlier verified release there, a rollback has nowhere to go: only a fix helps.
            return await failure(
                bad, finding,
                "\(headline). \(stillServing): there is no earlier verified release to roll back to. "
                    + "\(Self.shipAFix(to: environment))")
        }
        progress("Rolling \(name) back to \(rollback.release.version)…")
        do {
            let report = try await execute(rollback, provider: rollbackProvider, gates: [], resume: nil)
            progress(report.message)
        } catch let error as ReleaseError {
            // Busy (4) and unreachable (5) say why it could not finish; anything else is a failure (1).
            return await failure(
                bad, finding, "\(headline), and the automatic rollback to \(rollback.release.version) failed too: \(error.message)",
                code: [.busy, .unavailable].contains(error.code) ? error.code : .deploymentFailed)
        }
        return await failure(
            bad, finding,
            "\(headline). \(version) is quarantined; \(name) was rolled back to \(rollback.release.version) and "
                + "is healthy.",
            rolledBackTo: rollback.release.version)
    }

    /// Records the automatic rollback of `bad` to `release` (its deployment `target`), leased to
    /// this run, inside the caller's transaction. Throws `busy` when something else is in flight.
    private func startAutomaticRollback(
        of bad: StartedDeployment, to release: ReleaseRecord, target: DeploymentRecord,
        in db: PostgresConnection
    ) throws -> StartedDeployment {
        let id = try db.insertDeployment(
            app: bad.appID, environment: bad.environmentID, environmentName: bad.environment.name, release: release.id,
            kind: .rollback, by: claimedActor, reason: "automatic rollback: \(bad.release.version) failed on \(bad.environment.name)",
            rollbackOf: bad.id)
        try db.transition(deployment: id, to: .gating)
        try db.transition(deployment: id, to: .deploying)
        try db.takeLease(deployment: id, owner: leaseOwner, seconds: leaseSeconds)
        try db.appendAudit(
            app: bad.appID, actor: claimedActor, action: "rollback.started", environment: bad.environment.name,
            version: release.version,
            details: .object([
                ("deployment", .int(id)), ("automatic", .bool(true)),
                ("rollback_of", .int(bad.id)), ("previous", .string(bad.release.version)),
            ]))
        return StartedDeployment(
            id: id, appID: bad.appID, environmentID: bad.environmentID, kind: .rollback, environment: bad.environment,
            release: release, previous: bad.release, targetReference: target.liveReference, rollbackOf: bad.id)
    }

    /// Announces how the failure ended and returns the error to end with.
    private func failure(
        _ bad: StartedDeployment, _ finding: Finding, _ message: String, code: ReleaseError.Code = .deploymentFailed,
        rolledBackTo: String? = nil
    ) async -> ReleaseError {
        await announce(bad, action: finding.actions(bad.kind).announced, message: message, rolledBackTo: rolledBackTo)
        return ReleaseError(code, message)
    }
}
