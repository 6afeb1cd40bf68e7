import Foundation
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

extension Engine {
    /// `release deploy`, `release promote` and `release rollback`: gate, deploy, verify, and roll
    /// back automatically when verification fails.
    public func run(_ plan: OperationPlan) async throws -> OperationReport {
        if plan.kind == .deploy, let source = plan.environment.promoteFrom {
            throw ReleaseError.usage(
                "'\(plan.environment.name)' only receives promotions from \(source). Run `release promote \(source) "
                    + "\(plan.environment.name)`.")
        }
        let provider = try provider(for: plan.environment)
        try provider.preflight()
        if plan.kind != .rollback { _ = try signalPlan(for: plan.environment) }
        if plan.kind == .rollback, plan.reverseMigrations { return try await runReversing(plan, provider: provider) }
        let started = try await begin(plan)
        if let report = started.report { return report }
        guard let deployment = started.deployment else {
            throw ReleaseError.failed("The \(plan.kind.rawValue) did not start.")
        }
        FaultPoint.afterBegin.reached()
        return try await execute(deployment, provider: provider, gates: started.gates, resume: nil)
    }

    /// Gating, in one transaction: the deployment row (the database refuses a second one in flight,
    /// exit 4), every gate against one snapshot, then `rejected` (exit 3) or `deploying` with a lease.
    func begin(_ plan: OperationPlan) async throws -> (deployment: StartedDeployment?, report: OperationReport?, gates: [GateResult]) {
        let engine = self
        enum Outcome: Sendable {
            case started(StartedDeployment, [GateResult])
            case rejected(version: String?, [GateResult])
            case alreadyLive(OperationReport)
        }
        let outcome: Outcome = try await transaction { db in
            let resolution = try engine.resolve(plan, in: db, reserve: true)
            try engine.requirePlannedReversal(plan, resolution)
            guard let release = resolution.release else {
                // Nothing to record a deployment of: refuse and roll back, storing nothing.
                throw Self.refusal(plan, version: nil, gates: resolution.gates)
            }
            if plan.kind != .rollback, let current = resolution.current, current.releaseID == release.id,
                current.state == .live, current.verified, resolution.refused.isEmpty
            {
                // Idempotent for CI: asking for what is already verified live changes nothing.
                return .alreadyLive(
                    OperationReport(
                        deploymentID: current.deploymentID, kind: plan.kind, environment: plan.environment.name, version: release.version,
                        previousVersion: nil, gates: resolution.gates, since: current.since,
                        message:
                            "\(release.version) is already live and verified on \(plan.environment.name) (since \(current.since)); nothing to do."))
            }
            guard let id = resolution.deploymentID else { throw ReleaseError.failed("No deployment id was reserved.") }
            try db.startDeployment(
                id: id, app: resolution.appID, environment: resolution.environmentID, release: release.id, kind: plan.kind,
                by: engine.claimedActor, reason: plan.reason, sourceDeployment: resolution.sourceDeployment?.id)
            try db.transition(deployment: id, to: .gating)
            let refused = resolution.refused
            if !refused.isEmpty {
                let summary = refused.map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
                try db.transition(deployment: id, to: .rejected, detail: summary)
                try db.appendAudit(
                    app: resolution.appID, actor: engine.claimedActor, action: "\(plan.kind.rawValue).rejected",
                    environment: plan.environment.name, version: release.version,
                    details: .object([("deployment", .int(id)), ("gates", .array(refused.map(\.json)))]))
                return .rejected(version: release.version, resolution.gates)
            }
            try db.transition(deployment: id, to: .deploying)
            try db.takeLease(deployment: id, owner: engine.leaseOwner, seconds: engine.leaseSeconds)
            var details: [(String, JSONValue)] = [("deployment", .int(id))]
            if let source = plan.source { details.append(("from", .string(source.name))) }
            if let previous = resolution.previous { details.append(("previous", .string(previous.version))) }
            if let commit = release.commit { details.append(("commit", .string(commit))) }
            if let artifact = release.artifact { details.append(("artifact", .string(artifact))) }
            if let reason = plan.reason { details.append(("reason", .string(reason))) }
            if let crossed = resolution.context.schema?.audited { details.append(("migrations", crossed)) }
            let frozen = !PromotionGate.activeFreezes(resolution.context).reasons.isEmpty
            if plan.force, frozen {
                details.append(("freeze_overridden", .bool(true)))
                try db.appendAudit(
                    app: resolution.appID, actor: engine.claimedActor, action: "freeze.overridden",
                    environment: plan.environment.name, version: release.version,
                    details: .object([("deployment", .int(id)), ("reason", .optional(plan.reason))]))
            }
            try engine.auditAcceptedSchema(
                resolution.context.schema, kind: plan.kind, deployment: id, app: resolution.appID, environment: plan.environment.name,
                in: db)
            try db.appendAudit(
                app: resolution.appID, actor: engine.claimedActor, action: "\(plan.kind.rawValue).started",
                environment: plan.environment.name, version: release.version, details: .object(details))
            let sourceReference = resolution.sourceDeployment?.liveReference
            return .started(
                StartedDeployment(
                    id: id, appID: resolution.appID, environmentID: resolution.environmentID, kind: plan.kind,
                    environment: plan.environment, release: release, previous: resolution.previous,
                    sourceEnvironment: plan.source, sourceReference: sourceReference,
                    targetReference: resolution.rollbackTarget?.liveReference, rollbackOf: nil,
                    announce: plan.announce, reason: plan.reason), resolution.gates)
        }
        switch outcome {
        case let .started(deployment, gates):
            return (deployment, nil, gates)
        case let .alreadyLive(report):
            return (nil, report, report.gates)
        case let .rejected(version, gates):
            throw Self.refusal(plan, version: version, gates: gates)
        }
    }

    /// Refuses to record anything for a deployment whose lease another run has taken over: the
    /// check travels with the transaction's statements and stops it there (busy, exit 4).
    func requireLease(_ started: StartedDeployment, in db: PostgresConnection) throws {
        try db.requireLease(deployment: started.id, owner: leaseOwner)
    }

    /// Records what the health probe found as the environment's health, in the transaction that
    /// records the verdict it led to.
    func record(_ probed: ProbeVerdict?, of started: StartedDeployment, in db: PostgresConnection) throws {
        guard let probed else { return }
        try db.recordHealth(environment: started.environmentID, healthy: probed.passed, detail: probed.detail)
    }

    /// Drives a started deployment through the provider, cutover and verification.
    /// `resume` is the recorded operation when `release recover` continues a dead run.
    func execute(
        _ started: StartedDeployment, provider: any DeploymentProvider, gates: [GateResult],
        resume: JSONValue?, reversal: PlannedReversal? = nil
    ) async throws -> OperationReport {
        let heartbeat = startHeartbeat(started.id)
        let notice = InterruptNotice.driving(started, engine: self)
        defer {
            heartbeat.cancel()
            InterruptNotice.restore(notice)
        }
        var request = started.request
        request.app = app
        let connection = self.connection
        let id = started.id
        let recorder: OperationRecorder = { reference in
            try await connection.run { db in try db.recordOperation(deployment: id, reference) }
            FaultPoint.afterRecord.reached()
        }
        switch started.kind {
        case .rollback: progress("Rolling back \(started.environment.name) to \(started.release.version) (deployment \(started.id))…")
        case .promote: progress("Promoting \(started.release.version) to \(started.environment.name) (deployment \(started.id))…")
        case .deploy: progress("Deploying \(started.release.version) to \(started.environment.name) (deployment \(started.id))…")
        }
        if resume?[Self.reversalKey]?.stringValue == "reversing" { throw try await diedReversing(started) }
        if let reversal { try await reverseMigrations(started, reversal) }
        let outcome: DeploymentOutcome
        do {
            if let resume {
                outcome = try await provider.resume(request, operation: resume, record: recorder)
            } else if started.kind == .rollback {
                outcome = try await provider.rollback(request, record: recorder)
            } else {
                outcome = try await provider.deploy(request, record: recorder)
            }
        } catch let error as ProviderError where error.serving == .failedRelease && error.kind == .failed {
            // The platform started serving the release and it failed there: as a failed verification.
            throw try await releaseFailed(started, finding: .platform, detail: error.message, provider: provider)
        } catch let error as ProviderError {
            throw try await providerFailed(started, error)
        } catch let error as ReleaseError {
            throw error
        } catch {
            throw try await providerFailed(started, ProviderError(.failed, "\(error)"))
        }
        FaultPoint.afterProvider.reached()
        let engine = self
        let since: Timestamp = try await transaction { db in
            try engine.requireLease(started, in: db)
            return try db.commitCutover(
                deployment: started.id, environment: started.environmentID, release: started.release.id,
                liveReference: outcome.liveReference,
                audit: AuditEntry(
                    app: started.appID, actor: engine.claimedActor, action: "\(started.kind.rawValue).cutover",
                    environment: started.environment.name, version: started.release.version,
                    details: .object([("deployment", .int(started.id)), ("provider", .string(outcome.summary))])))
        }
        progress("\(started.environment.name) serves \(started.release.version) since \(since) (\(outcome.summary)).")
        await mark(
            started.kind == .rollback ? .rollback : .cutover, release: started.release, in: started.environment, appID: started.appID,
            message: "\(started.release.version) went live on \(started.environment.name) (\(started.kind.rawValue), deployment \(started.id)).")
        FaultPoint.afterCutover.reached()
        return try await verify(started, provider: provider, gates: gates, since: since, outcome: outcome.liveReference)
    }

    /// Verification: the health URL, then the signals (`verify:`; never for a rollback, which
    /// restores a release verified there before and must be fast). Then `live`; or `failed` with
    /// quarantine and the automatic rollback; or, when the signals were inconclusive, what
    /// `on_inconclusive` says (hold: live, not verified, exit 6).
    func verify(
        _ started: StartedDeployment, provider: any DeploymentProvider, gates: [GateResult], since: Timestamp?,
        outcome: JSONValue
    ) async throws -> OperationReport {
        // The probe's verdict is the environment's health, recorded by the transaction that records
        // what it led to (no round trip of its own).
        var probed: ProbeVerdict?
        if let health = started.environment.health {
            progress(
                "Verifying \(health.url): \(health.successes) healthy answer\(health.successes == 1 ? "" : "s") in a row within "
                    + "\(health.within)…")
            let reporter = ProbeReporter(progress: progress)
            probed = await prober.verify(health) { attempt, failure in reporter.report(attempt, failure) }
        }
        let verdict = probed ?? ProbeVerdict(passed: true, attempts: 0, detail: "no health check configured", elapsed: .zero)
        var signals: SignalsVerdict?
        if verdict.passed, started.kind != .rollback, let plan = try signalPlan(for: started.environment) {
            signals = try await measureSignals(
                plan, deployment: started.id, release: started.release, environment: started.environment, cutover: since ?? .now)
        }
        FaultPoint.afterVerification.reached()
        let decided = signals?.outcome ?? .pass
        let onInconclusive = started.environment.verify?.onInconclusive ?? .hold
        // The platform keeps what stays live: a pass, or an inconclusive verdict held or passed.
        let keeps = verdict.passed && (decided == .pass || (decided == .inconclusive && onInconclusive != .rollback))
        do {
            var request = started.request
            request.app = app
            try await provider.settle(request, outcome: outcome, healthy: keeps)
        } catch {
            progress("Warning: the provider could not settle deployment \(started.id) after verification: \(error)")
        }
        guard verdict.passed else {
            throw try await releaseFailed(started, finding: .verification, detail: verdict.detail, provider: provider, probed: probed)
        }
        var detail = verdict.detail
        if let signals {
            if signals.observed != .pass, decided == .pass, started.environment.verify?.mode == .observe {
                await announce(
                    started, action: "\(started.kind.rawValue).observed",
                    message: "Observed on \(started.environment.name), not deciding: \(started.release.version)'s signals came out "
                        + "\(signals.observed.rawValue): \(signals.summary).")
            }
            switch decided {
            case .fail, .error:
                throw try await releaseFailed(
                    started, finding: .verification, detail: "signals: \(signals.summary)", provider: provider, probed: probed)
            case .inconclusive:
                switch onInconclusive {
                case .rollback:
                    throw try await releaseFailed(
                        started, finding: .verification, detail: "signals inconclusive (on_inconclusive: rollback): \(signals.summary)",
                        provider: provider, probed: probed)
                case .hold:
                    throw try await hold(started, signals: signals, probed: probed)
                case .pass:
                    detail += "; signals inconclusive, passed by on_inconclusive: pass: \(signals.summary)"
                }
            case .pass:
                detail += "; signals: \(signals.summary)"
            }
        }
        return try await wentLive(started, gates: gates, since: since, detail: detail, probed: probed)
    }

    /// Records a verified deployment live, syncs its branch and announces it.
    private func wentLive(
        _ started: StartedDeployment, gates: [GateResult], since: Timestamp?, detail: String, probed: ProbeVerdict?
    ) async throws -> OperationReport {
        let engine = self
        try await transaction { db in
            try engine.requireLease(started, in: db)
            try engine.record(probed, of: started, in: db)
            try db.markVerified(deployment: started.id, detail: detail)
            if let failed = started.rollbackOf {
                try db.markRolledBack(deployment: failed)
            }
            try db.appendAudit(
                app: started.appID, actor: engine.claimedActor, action: "\(started.kind.rawValue).live",
                environment: started.environment.name, version: started.release.version,
                details: .object([("deployment", .int(started.id)), ("verification", .string(detail))]))
        }
        let message: String
        switch started.kind {
        case .rollback: message = "\(started.environment.name) was rolled back to \(started.release.version) and is healthy (\(detail))."
        case .promote, .deploy: message = "\(started.release.version) is live on \(started.environment.name) (\(detail))."
        }
        FaultPoint.afterLive.reached()
        if started.kind != .rollback, let git = started.environment.git {
            await syncBranch(started, git)
        }
        if started.rollbackOf == nil, started.announce {
            await announce(started, action: "\(started.kind.rawValue).live", message: message)
        }
        return OperationReport(
            deploymentID: started.id, kind: started.kind, environment: started.environment.name,
            version: started.release.version, previousVersion: started.previous?.version, gates: gates,
            since: since, message: message)
    }

    /// Holds a deployment whose signals were inconclusive: live, not verified (promotions from it
    /// refused, its soak not counting), audited and announced; returns the error to end with (exit 6,
    /// or 2 when a service refused the credentials).
    private func hold(_ started: StartedDeployment, signals: SignalsVerdict, probed: ProbeVerdict?) async throws -> ReleaseError {
        let engine = self
        let name = started.environment.name
        let detail = "signals inconclusive: \(signals.summary)"
        try await transaction { db in
            try engine.requireLease(started, in: db)
            try engine.record(probed, of: started, in: db)
            try db.markHeld(deployment: started.id, detail: detail)
            try db.appendAudit(
                app: started.appID, actor: engine.claimedActor, action: "\(started.kind.rawValue).held", environment: name,
                version: started.release.version, details: .object([("deployment", .int(started.id)), ("verification", .string(detail))]))
        }
        let fix = signals.configurationProblems.isEmpty ? "" : " " + signals.configurationProblems.joined(separator: " ")
        let message =
            "\(started.release.version) is live on \(name) but not verified: its signals were inconclusive (\(signals.summary)).\(fix) "
            + "Promotions from it wait. Decide: `release verify \(name)` to measure again, `release accept \(name) --reason …`, or "
            + "`release rollback \(name) --reason …`."
        await announce(started, action: "\(started.kind.rawValue).held", message: message)
        // A service that refused the credentials is a configuration error (2); the release is held all the same.
        return signals.configurationProblems.isEmpty ? .held(message) : .usage(message)
    }

    /// How a fix reaches an environment: deployed, or promoted from its source.
    static func shipAFix(to environment: EnvironmentConfiguration) -> String {
        if let source = environment.promoteFrom {
            return "Promote a fixed release from \(source): `release promote \(source) \(environment.name)`."
        }
        return "Deploy a fixed release: `release create VERSION`, then `release deploy VERSION \(environment.name)`."
    }

    /// Tells the observer (notifications) how an operation ended; never fails the operation.
    func announce(_ started: StartedDeployment, action: String, message: String, rolledBackTo: String? = nil) async {
        guard let observer, started.announce else { return }
        let event = OperationEvent(
            action: action, app: app, environment: started.environment.name, version: started.release.version,
            previousVersion: started.previous?.version, rolledBackTo: rolledBackTo, actor: actor, at: .now,
            commit: started.release.commit, reason: started.reason, message: message)
        await observer(event)
    }

    /// Records a provider failure and returns the error to throw.
    func providerFailed(_ started: StartedDeployment, _ error: ProviderError) async throws -> ReleaseError {
        let engine = self
        let name = started.environment.name
        let recorded = try await database { db in try db.deployment(id: started.id)?.operation }
        // The operation says the platform started when it holds more than how far reversing got.
        let startedOnPlatform: Bool
        switch recorded {
        case let .object(pairs)?: startedOnPlatform = pairs.contains { $0.0 != Self.reversalKey }
        case .null?, nil: startedOnPlatform = false
        default: startedOnPlatform = true
        }
        if error.kind == .unreachable, startedOnPlatform {
            // The platform may still be working on it: leave it in flight for `release recover`,
            // giving up the lease only if it is still this run's (a run that took over keeps it).
            try await transaction { db in
                try engine.requireLease(started, in: db)
                try db.takeLease(deployment: started.id, owner: engine.leaseOwner, seconds: 0)
            }
            return .unavailable(
                "\(error.message) The operation may still be running on the platform; run `release recover \(name)` once it can "
                    + "be reached.")
        }
        try await transaction { db in
            try engine.requireLease(started, in: db)
            try db.transition(deployment: started.id, to: .failed, detail: error.message)
            try db.appendAudit(
                app: started.appID, actor: engine.claimedActor, action: "\(started.kind.rawValue).failed",
                environment: name, version: started.release.version,
                details: .object([("deployment", .int(started.id)), ("error", .string(error.message))]))
        }
        // What the environment serves now comes from what the provider saw, never from a guess;
        // an operation that never started on the platform changed nothing there.
        var serving = error.serving
        if serving == .unknown, !startedOnPlatform {
            serving = .unchanged(observed: "the platform had not started an operation")
        }
        let now: String
        switch serving {
        case let .unchanged(observed):
            now = (started.previous.map { "\(name) still serves \($0.version)" } ?? "nothing was live on \(name) before") + " (\(observed))"
        case .unknown, .failedRelease:
            let before = started.previous.map { "it served \($0.version) before" } ?? "nothing was live there before"
            now = "release cannot tell what \(name) serves now (\(before)): check it with `release probe \(name)` and on the platform"
        }
        let message: String
        if started.kind == .rollback {
            message =
                "Rollback of \(name) to \(started.release.version) failed: \(error.message) \(now.uppercasedFirst). \(name) is degraded "
                + "and needs a human."
        } else if case .unchanged = serving {
            message =
                "\(started.kind == .promote ? "Promotion" : "Deploy") of \(started.release.version) to \(name) failed: \(error.message) "
                + "Nothing went live, so nothing was rolled back: \(now)."
        } else {
            message =
                "\(started.kind == .promote ? "Promotion" : "Deploy") of \(started.release.version) to \(name) failed: \(error.message) "
                + "Nothing was rolled back: \(now)."
        }
        await announce(started, action: "\(started.kind.rawValue).failed", message: message)
        switch error.kind {
        case .failed: return .failed(message)
        case .configuration: return .usage(message)
        case .unreachable: return .unavailable(message)
        }
    }

    /// Shows probe failures as they change, not every identical one.
    final class ProbeReporter: @unchecked Sendable {
        private let progress: @Sendable (String) -> Void
        private let lock = NSLock()
        private var last: String?

        init(progress: @escaping @Sendable (String) -> Void) {
            self.progress = progress
        }

        func report(_ attempt: Int, _ failure: String?) {
            lock.lock()
            defer { lock.unlock() }
            guard failure != last else { return }
            last = failure
            progress("  probe \(attempt): \(failure ?? "healthy")")
        }
    }

    /// Keeps the lease alive while the provider works.
    func startHeartbeat(_ deployment: Int64) -> Task<Void, Never> {
        let connection = self.connection
        let owner = leaseOwner
        let seconds = leaseSeconds
        let logger = self.logger
        return Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(max(200, seconds * 1000 / 3)))
                if Task.isCancelled { return }
                do {
                    let held = try await connection.run { db in try db.heartbeat(deployment: deployment, owner: owner, seconds: seconds) }
                    if !held { logger.warning("Lost the lease on deployment \(deployment); another run took over.") }
                } catch {
                    logger.warning("Heartbeat for deployment \(deployment) failed: \(error)")
                }
            }
        }
    }
}

extension String {
    /// The sentence with its first letter in lower case, to follow "or".
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }

    /// The sentence with its first letter in upper case, to open a sentence.
    var uppercasedFirst: String { prefix(1).uppercased() + dropFirst() }
}
