import Foundation
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

extension Engine {
    /// After a release went live on an environment with `git:`, fast-forwards that branch to the
    /// release's commit. Anything but a fast-forward is refused; either way it is audited, and it
    /// never fails the deployment (the release is live whatever the branch says).
    func syncBranch(_ started: StartedDeployment, _ git: GitSyncConfiguration) async {
        let target = "\(git.remote)/\(git.branch)"
        guard let commit = started.release.commit else {
            progress("Warning: \(started.release.version) has no commit, so \(target) was left alone (create releases with --commit).")
            return
        }
        let repository = git.repository ?? configuration.directory
        let outcome = await GitSync(configuration: git, repository: repository, environment: processEnvironment).sync(commit: commit)
        var details: [(String, JSONValue)] = [("deployment", .int(started.id)), ("remote", .string(git.remote)),
                                              ("branch", .string(git.branch)), ("commit", .string(commit))]
        let action: String
        switch outcome {
        case let .moved(from, to):
            action = "git.synced"
            details.append(("from", .optional(from)))
            details[3] = ("commit", .string(to))
            progress("Fast-forwarded \(target) to \(to.prefix(12)) (\(started.release.version)).")
        case .alreadyThere:
            action = "git.synced"
            details.append(("unchanged", .bool(true)))
            progress("\(target) already points at \(commit.prefix(12)).")
        case let .refused(reason):
            action = "git.sync_refused"
            details.append(("reason", .string(reason)))
            progress("Warning: \(target) was not moved: \(reason). \(started.release.version) is live on \(started.environment.name) all the same.")
        }
        let engine = self
        let recorded = details
        do {
            try await database { db in
                try db.appendAudit(app: started.appID, actor: engine.actor, action: action, environment: started.environment.name,
                                   version: started.release.version, details: .object(recorded))
            }
        } catch {
            progress("Warning: could not record the branch sync in the audit trail: \(error)")
        }
    }

    /// `release watch ENV --for D`: keeps probing what is live; on a failure that a full
    /// verification confirms, quarantines it and rolls back, as promotion's own verification
    /// does. A rollback is never rolled back: a failing rollback is reported for a human.
    public func watch(_ environment: EnvironmentConfiguration, for duration: TimeSpan) async throws -> String {
        guard let health = environment.health else {
            throw ReleaseError.usage("\(environment.name) has no `health:` block in \(configuration.file); watch needs a URL to probe.")
        }
        let engine = self
        let watched: (appID: Int64, environmentID: Int64, live: LiveRelease?, kind: DeploymentKind?) = try await database { db in
            let appID = try db.ensureApp(named: engine.app)
            let environmentID = try db.ensureEnvironment(app: appID, named: environment.name)
            let live = try db.currentLive(environment: environmentID)
            let kind = try live.flatMap { try db.deployment(id: $0.deploymentID)?.kind }
            return (appID, environmentID, live, kind)
        }
        guard let live = watched.live else {
            throw ReleaseError.usage("Nothing is live on \(environment.name), so there is nothing to watch. Deploy a release first.")
        }
        progress("Watching \(live.version) on \(environment.name) for \(duration): a probe of \(health.url) every \(health.interval)…")
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: duration.duration)
        var probes = 0
        while true {
            let current = try await database { db in try db.currentLive(environment: watched.environmentID) }
            if current?.deploymentID != live.deploymentID {
                return "\(current?.version ?? "Another release") replaced \(live.version) on \(environment.name) during the watch; stopped watching after \(probes) probe\(probes == 1 ? "" : "s")."
            }
            probes += 1
            if let failure = await prober.probeOnce(health) {
                progress("  probe \(probes): \(failure); verifying (\(health.successes) healthy answers within \(health.within))…")
                let verdict = await prober.verify(health)
                try await database { db in
                    try db.recordHealth(environment: watched.environmentID, healthy: verdict.passed, detail: verdict.detail)
                }
                if !verdict.passed {
                    return try await watchFailed(environment, live: live, kind: watched.kind ?? .deploy, appID: watched.appID,
                                                 environmentID: watched.environmentID, detail: verdict.detail)
                }
                progress("  recovered: \(verdict.detail)")
            }
            let remaining = deadline - clock.now
            if remaining <= .zero { break }
            try await Task.sleep(for: min(health.interval.duration, remaining))
            if clock.now >= deadline { break }
        }
        let count = Int64(probes)
        try await database { db in
            try db.recordHealth(environment: watched.environmentID, healthy: true, detail: "healthy throughout a \(duration) watch")
            try db.appendAudit(app: watched.appID, actor: engine.actor, action: "watch.passed", environment: environment.name,
                               version: live.version, details: .object([("deployment", .int(live.deploymentID)),
                                                                        ("for", .string("\(duration)")), ("probes", .int(count))]))
        }
        return "\(live.version) stayed healthy on \(environment.name) for \(duration) (\(probes) probe\(probes == 1 ? "" : "s"))."
    }

    private func watchFailed(_ environment: EnvironmentConfiguration, live: LiveRelease, kind: DeploymentKind, appID: Int64,
                             environmentID: Int64, detail: String) async throws -> String {
        let engine = self
        let name = environment.name
        let isRollback = kind == .rollback
        let rollBack = !isRollback && environment.onFailure == .rollback
        let stillLive: Bool = try await transaction { db in
            guard try db.currentLive(environment: environmentID)?.deploymentID == live.deploymentID else { return false }
            if !isRollback {
                try db.quarantine(release: live.releaseID, reason: "failed its health probe on \(name) during a watch: \(detail)")
            }
            try db.appendAudit(app: appID, actor: engine.actor, action: "watch.failed", environment: name, version: live.version,
                               details: .object([("deployment", .int(live.deploymentID)), ("detail", .string(detail)),
                                                 ("quarantined", .bool(!isRollback)), ("rolling_back", .bool(rollBack))]))
            return true
        }
        guard stillLive else {
            return "\(live.version) is no longer live on \(name); the failed probe concerned what replaced it, which has its own verification."
        }
        /// Announces the failed watch and returns the error to throw.
        func failure(_ message: String, code: ReleaseError.Code = .deploymentFailed, rolledBackTo: String? = nil) async -> ReleaseError {
            await observer?(OperationEvent(action: "watch.failed", app: engine.app, environment: name, version: live.version,
                                           rolledBackTo: rolledBackTo, actor: engine.actor, at: .now, message: message))
            return ReleaseError(code, message)
        }
        if isRollback {
            throw await failure("\(live.version) on \(name) was put there by a rollback and failed its health probe (\(detail)). A rollback is never rolled back: \(name) is degraded and needs a human.")
        }
        guard rollBack else {
            throw await failure("\(live.version) failed its health probe on \(name) (\(detail)). It is quarantined and still serving: on_failure is stop. Run `release rollback \(name) --reason …`, or \(Self.shipAFix(to: environment).lowercasedFirst)")
        }
        progress("\(live.version) failed its health probe on \(name) (\(detail)); rolling back…")
        var plan = OperationPlan(kind: .rollback, environment: environment, reason: "watch: \(live.version) failed its health probe: \(detail)")
        plan.announce = false
        let report: OperationReport
        do {
            report = try await run(plan)
        } catch let error as ReleaseError {
            // A gate refusing the rollback (exit 3), or nothing to roll back to (2), still leaves a
            // failed release serving: exit 1. Busy (4) and unreachable (5) say why it could not run.
            throw await failure("\(live.version) failed its health probe on \(name) during the watch (\(detail)), and the rollback did not complete: \(error.message)",
                                code: [.busy, .unavailable].contains(error.code) ? error.code : .deploymentFailed)
        }
        progress(report.message)
        throw await failure("\(live.version) failed its health probe on \(name) during the watch (\(detail)). \(live.version) is quarantined; \(name) was rolled back to \(report.version) and is healthy.",
                            rolledBackTo: report.version)
    }
}
