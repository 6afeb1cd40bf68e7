import Postgres
import ReleaseCore
import ReleaseStore

extension Engine {
    /// Resolves a plan and evaluates its gates against one snapshot, inside the caller's transaction.
    func resolve(_ plan: OperationPlan, in db: PostgresConnection) throws -> Resolution {
        let appID = try db.ensureApp(named: app)
        let environmentID = try db.ensureEnvironment(app: appID, named: plan.environment.name)
        let current = try db.currentLive(environment: environmentID)
        var release: ReleaseRecord?
        var sourceLive: LiveRelease?
        var sourceDeployment: DeploymentRecord?
        var rollbackTarget: DeploymentRecord?
        var sourceHealth: (health: String, recoveredAt: Timestamp?)?

        switch plan.kind {
        case .deploy:
            guard let version = plan.version, let found = try db.release(app: appID, version: version) else {
                throw unknownVersion(plan.version ?? "", in: db, app: appID)
            }
            release = found
        case .promote:
            guard let source = plan.source else { throw ReleaseError.usage("A promotion needs a source environment.") }
            let sourceID = try db.ensureEnvironment(app: appID, named: source.name)
            sourceLive = try db.currentLive(environment: sourceID)
            sourceHealth = try db.healthBreak(environment: sourceID)
            if let requested = plan.version {
                guard let found = try db.release(app: appID, version: requested) else {
                    throw unknownVersion(requested, in: db, app: appID)
                }
                release = found
            } else if let live = sourceLive {
                release = try db.release(id: live.releaseID)
            }
            if let live = sourceLive, live.releaseID == release?.id {
                sourceDeployment = try db.deployment(id: live.deploymentID)
            }
        case .rollback:
            if let version = plan.version {
                guard let target = try db.release(app: appID, version: version) else {
                    throw unknownVersion(version, in: db, app: appID)
                }
                guard let deployment = try db.lastVerified(environment: environmentID, release: target.id) else {
                    throw ReleaseError.usage("\(version) was never verified live on \(plan.environment.name), so it is no known-good state to roll back to. Run `release history \(plan.environment.name)` to pick one that was.")
                }
                rollbackTarget = deployment
                release = target
            } else {
                guard let deployment = try db.lastVerified(environment: environmentID, excludingRelease: current?.releaseID) else {
                    throw ReleaseError.usage("\(plan.environment.name) has no earlier verified release to roll back to. Deploy a known-good version instead.")
                }
                rollbackTarget = deployment
                release = try db.release(id: deployment.releaseID)
            }
            if let current, current.releaseID == release?.id {
                throw ReleaseError.usage("\(current.version) is already live on \(plan.environment.name); nothing to roll back.")
            }
        }

        let now = try db.now()
        var checks: [String: CheckStatus] = [:]
        var approvers: [String] = []
        if let release, plan.kind != .rollback {
            if !plan.environment.gates.checks.isEmpty { checks = try db.latestChecks(release: release.id) }
            if plan.environment.gates.approvals > 0 {
                // Approvals count only since the version went live on the source: a change there voids them.
                approvers = try db.approvers(environment: environmentID, release: release.id,
                                             since: plan.kind == .promote ? sourceLive?.since : nil)
            }
        }
        let freezes = plan.kind == .rollback ? [] : try db.activeFreezes(environment: environmentID, at: now)
        let context = GateContext(
            kind: plan.kind, environment: plan.environment, actor: actor, now: now, release: release,
            sourceEnvironment: plan.source?.name, sourceLive: sourceLive, requestedVersion: plan.version,
            checks: checks, approvers: approvers, adHocFreezes: freezes, forceReason: plan.force ? plan.reason : nil,
            sourceHealth: sourceHealth?.health, sourceRecoveredAt: sourceHealth?.recoveredAt)
        let previous = try current.flatMap { try db.release(id: $0.releaseID) }
        return Resolution(
            appID: appID, environmentID: environmentID, release: release, current: current, previous: previous,
            sourceLive: sourceLive, sourceDeployment: sourceDeployment, rollbackTarget: rollbackTarget,
            gates: PromotionGate.evaluate(context), context: context)
    }

    private func unknownVersion(_ version: String, in db: PostgresConnection, app appID: Int64) -> ReleaseError {
        let recent = (try? db.releases(app: appID, limit: 5).map(\.version)) ?? []
        let hint = recent.isEmpty ? "No releases are registered yet" : "Recent releases: \(recent.joined(separator: ", "))"
        return .usage("Unknown version '\(version)' of \(app). \(hint). Register it with `release create \(version)`.")
    }

    /// `promote --dry-run` (and any plan): every gate, pass or fail, changing nothing.
    public func dryRun(_ plan: OperationPlan) async throws -> (release: String?, gates: [GateResult]) {
        let engine = self
        return try await database { db in
            try db.rolledBackTransaction { tx in
                let resolution = try engine.resolve(plan, in: tx)
                return (resolution.release?.version, resolution.gates)
            }
        }
    }

    /// The refusal message for failed gates.
    static func refusal(_ plan: OperationPlan, version: String?, gates: [GateResult]) -> ReleaseError {
        let failed = gates.filter { !$0.passed }
        let what: String
        switch plan.kind {
        case .deploy: what = "Deploy of \(version ?? "?") to \(plan.environment.name)"
        case .promote: what = "Promotion of \(version ?? "nothing") from \(plan.source?.name ?? "?") to \(plan.environment.name)"
        case .rollback: what = "Rollback of \(plan.environment.name)"
        }
        var message = "\(what) refused: " + failed.map { "\($0.name): \($0.detail)" }.joined(separator: "; ") + "."
        if plan.kind == .promote {
            message += " Run `release promote \(plan.source?.name ?? "FROM") \(plan.environment.name) --dry-run` to see every gate."
        }
        return .refused(message)
    }
}
