import Postgres
import ReleaseCore
import ReleaseStore

extension Engine {
    /// Resolves a plan and evaluates its gates against one snapshot, inside the caller's transaction.
    /// Three round trips in the common case: register the app and environments, read both
    /// environments and the clock, then what depends on those answers.
    /// `reserve`: also take the id the deployment will have, in the last round trip.
    func resolve(_ plan: OperationPlan, in db: PostgresConnection, reserve: Bool = false) throws -> Resolution {
        if plan.kind == .promote, plan.source == nil { throw ReleaseError.usage("A promotion needs a source environment.") }
        let ids = try db.ensureApp(named: app, environments: plan.environment.name, plan.kind == .promote ? plan.source?.name : nil)
        let (appID, environmentID) = (ids.app, ids.first)
        let (now, current, sourceLive, sourceHealth, openFreezes) = try db.fetch(
            Reads.now(), Reads.currentLive(environment: environmentID), Reads.currentLive(environment: ids.second),
            Reads.health(environment: ids.second), Reads.openFreezes(environment: plan.kind == .rollback ? nil : environmentID))
        var release: ReleaseRecord?
        var rollbackTarget: DeploymentRecord?

        switch plan.kind {
        case .deploy:
            guard let version = plan.version, let found = try db.release(app: appID, version: version) else {
                throw unknownVersion(plan.version ?? "", in: db, app: appID)
            }
            release = found
        case .promote:
            if let requested = plan.version {
                guard let found = try db.release(app: appID, version: requested) else {
                    throw unknownVersion(requested, in: db, app: appID)
                }
                release = found
            }
        case .rollback:
            if let version = plan.version {
                guard let target = try db.release(app: appID, version: version) else {
                    throw unknownVersion(version, in: db, app: appID)
                }
                guard let deployment = try db.lastVerified(environment: environmentID, release: target.id) else {
                    throw ReleaseError.usage(
                        "\(version) was never verified live on \(plan.environment.name), so it is no known-good state to "
                            + "roll back to. Run `release history \(plan.environment.name)` to pick one that was.")
                }
                rollbackTarget = deployment
                release = target
            } else {
                guard let deployment = try db.lastVerified(environment: environmentID, excludingRelease: current?.releaseID) else {
                    throw ReleaseError.usage(
                        "\(plan.environment.name) has no earlier verified release to roll back to. "
                            + "\(Self.shipAFix(to: plan.environment))")
                }
                rollbackTarget = deployment
            }
        }

        // The release (a promotion's is what the source serves), and everything that depends on it.
        let releaseID = release?.id ?? (plan.kind == .promote ? sourceLive?.releaseID : rollbackTarget?.releaseID)
        let gated = plan.kind != .rollback
        let (fetchedRelease, sourceDeployment, previous, checks, approvers, deploymentID) = try db.fetch(
            Reads.release(id: release == nil ? releaseID : nil),
            Reads.deployment(id: sourceLive.flatMap { $0.releaseID == releaseID ? $0.deploymentID : nil }),
            Reads.release(id: current?.releaseID),
            Reads.latestChecks(release: gated && !plan.environment.gates.checks.isEmpty ? releaseID : nil),
            // Approvals count only since the version went live on the source: a change there voids them.
            Reads.approvers(
                environment: gated && plan.environment.gates.approvals > 0 ? environmentID : nil, release: releaseID,
                since: plan.kind == .promote ? sourceLive?.since : nil),
            Reads.nextDeploymentID(reserve: reserve))
        release = release ?? fetchedRelease
        if plan.kind == .rollback, let current, current.releaseID == release?.id {
            throw ReleaseError.usage("\(current.version) is already live on \(plan.environment.name); nothing to roll back.")
        }
        var context = GateContext(
            kind: plan.kind, environment: plan.environment, actor: actor, now: now, release: release,
            sourceEnvironment: plan.source?.name, sourceLive: sourceLive, requestedVersion: plan.version,
            checks: checks, approvers: approvers, adHocFreezes: openFreezes.filter { $0.isActive(at: now) },
            forceReason: plan.force ? plan.reason : nil,
            sourceHealth: plan.kind == .promote ? sourceHealth.health : nil,
            sourceRecoveredAt: plan.kind == .promote ? sourceHealth.recoveredAt : nil)
        context.onBehalfOf = onBehalfOf
        if let release {
            context.schema = try schemaMove(
                from: current, to: release, acceptedReason: plan.acceptSchema ? plan.reason : nil, reverse: plan.reverseMigrations, in: db)
        }
        return Resolution(
            appID: appID, environmentID: environmentID, release: release, current: current, previous: previous,
            sourceLive: sourceLive, sourceDeployment: sourceDeployment, rollbackTarget: rollbackTarget,
            gates: PromotionGate.evaluate(context), context: context, deploymentID: deploymentID)
    }

    /// What moving from `current` to `target` crosses in the schema, from the two releases'
    /// records and the acknowledgements; nil without `migrations:` in release.yml (no `schema` gate).
    func schemaMove(
        from current: LiveRelease?, to target: ReleaseRecord, acceptedReason: String?, reverse: Bool = false, in db: PostgresConnection
    ) throws -> SchemaMove? {
        guard configuration.migrations != nil else { return nil }
        let records = try db.fetch(Reads.migrations(releases: [target.id] + (current.map { [$0.releaseID] } ?? [])))
        var move = SchemaMove(
            from: current?.version, to: target.version, current: current.map { records[$0.releaseID] ?? nil },
            target: records[target.id] ?? nil, acceptedReason: acceptedReason, reverse: reverse)
        if let removed = move.removed, removed.contains(where: \.migrationClass.blocksRollback) {
            move.acknowledged = try db.fetch(Reads.acknowledged(migrations: removed.map(\.id), backTo: target.id))
        }
        return move
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
