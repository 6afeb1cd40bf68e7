import Postgres
import ReleaseCore
import ReleaseStore

extension Engine {
    /// Resolves a plan and evaluates its gates against one snapshot, inside the caller's transaction,
    /// in one round trip: the app and environments are registered first, and every read after
    /// finds what it needs by name in the same pipeline (what is live, the release moved to, the
    /// rollback target, checks, approvals). `reserve`: also take the id the deployment will have.
    func resolve(_ plan: OperationPlan, in db: PostgresConnection, reserve: Bool = false) throws -> Resolution {
        if plan.kind == .promote, plan.source == nil { throw ReleaseError.usage("A promotion needs a source environment.") }
        let sourceName = plan.kind == .promote ? plan.source?.name : nil
        let environment = ID.environment(app: app, named: plan.environment.name)
        let source = ID.environment(app: app, named: sourceName ?? "")
        let named = plan.version.map { ID.release(app: app, version: $0) }
        // The deployment a rollback goes back to, and the release the plan moves to.
        var target: ID?
        let moved: ID
        switch plan.kind {
        case .deploy:
            guard let named else { throw ReleaseError.usage("A deploy needs a version.") }
            moved = named
        case .promote:
            moved = named ?? .live(in: source)
        case .rollback:
            let deployment =
                named.map { ID.lastVerified(in: environment, release: $0) } ?? .lastVerified(in: environment, excluding: .live(in: environment))
            target = deployment
            moved = .release(of: deployment)
        }
        let gated = plan.kind != .rollback
        let (
            ids, now, current, sourceLive, sourceHealth, openFreezes, fetched, rollbackTarget, sourceDeployment, previous, checks, approvers,
            deploymentID
        ) = try db.fetch(
            Reads.ensure(app: app, environments: plan.environment.name, sourceName),
            Reads.now(),
            Reads.currentLive(environments: .named(app: app, [plan.environment.name])).map { $0.values.first },
            Reads.currentLive(environments: .named(app: app, sourceName.map { [$0] } ?? [])).map { $0.values.first },
            Reads.health(environments: .named(app: app, sourceName.map { [$0] } ?? [])).map { $0.values.first },
            Reads.openFreezes(environments: .named(app: app, plan.kind == .rollback ? [] : [plan.environment.name])).map {
                $0.values.first ?? []
            },
            Reads.release(id: moved),
            Reads.deployment(id: target ?? .known(nil)),
            Reads.deployment(id: plan.kind == .promote ? .liveDeployment(in: source, of: moved) : .known(nil)),
            Reads.release(id: .live(in: environment)),
            Reads.latestChecks(release: gated && !plan.environment.gates.checks.isEmpty ? moved : .known(nil)),
            // Approvals count only since the version went live on the source: a change there voids them.
            Reads.approvers(
                environment: gated && plan.environment.gates.approvals > 0 ? environment : .known(nil), release: moved,
                since: plan.kind == .promote ? ID.liveSince(in: source) : "NULL::timestamptz"),
            Reads.nextDeploymentID(reserve: reserve))
        let (appID, environmentID) = (ids.app, ids.first)
        let sourceHealthValue = sourceHealth ?? ("unknown", nil, nil)
        let release = fetched
        switch plan.kind {
        case .deploy, .promote:
            if let version = plan.version, release == nil { throw unknownVersion(version, in: db, app: appID) }
        case .rollback:
            if let version = plan.version {
                guard rollbackTarget != nil else {
                    guard try db.release(app: appID, version: version) != nil else { throw unknownVersion(version, in: db, app: appID) }
                    throw ReleaseError.usage(
                        "\(version) was never verified live on \(plan.environment.name), so it is no known-good state to "
                            + "roll back to. Run `release history \(plan.environment.name)` to pick one that was.")
                }
            } else if rollbackTarget == nil {
                throw ReleaseError.usage(
                    "\(plan.environment.name) has no earlier verified release to roll back to. \(Self.shipAFix(to: plan.environment))")
            }
        }
        if plan.kind == .rollback, let current, current.releaseID == release?.id {
            throw ReleaseError.usage("\(current.version) is already live on \(plan.environment.name); nothing to roll back.")
        }
        var context = GateContext(
            kind: plan.kind, environment: plan.environment, actor: actor, now: now, release: release,
            sourceEnvironment: plan.source?.name, sourceLive: sourceLive, requestedVersion: plan.version,
            checks: checks, approvers: approvers, adHocFreezes: openFreezes.filter { $0.isActive(at: now) },
            forceReason: plan.force ? plan.reason : nil,
            sourceHealth: plan.kind == .promote ? sourceHealthValue.health : nil,
            sourceRecoveredAt: plan.kind == .promote ? sourceHealthValue.recoveredAt : nil)
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
            // The command ends with the answer: the snapshot's ROLLBACK need not wait for a round trip.
            try db.rolledBackTransaction(rollingBackLater: true) { tx in
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
