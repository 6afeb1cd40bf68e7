import Foundation
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

extension Engine {
    /// `release watch ENV --for D`: keeps probing what is live; on a failure that a full
    /// verification confirms, quarantines it and rolls back, as promotion's own verification
    /// does. A rollback is never rolled back: a failing rollback is reported for a human.
    public func watch(_ environment: EnvironmentConfiguration, for duration: TimeSpan) async throws -> String {
        guard let health = environment.health else {
            throw ReleaseError.usage("\(environment.name) has no `health:` block in \(configuration.file); watch needs a URL to probe.")
        }
        let engine = self
        let watched: (deployment: StartedDeployment, live: LiveRelease)? = try await database { db in
            let appID = try db.ensureApp(named: engine.app)
            let environmentID = try db.ensureEnvironment(app: appID, named: environment.name)
            guard let live = try db.currentLive(environment: environmentID),
                let deployment = try db.deployment(id: live.deploymentID), let release = try db.release(id: live.releaseID)
            else { return nil }
            let bad = StartedDeployment(
                id: live.deploymentID, appID: appID, environmentID: environmentID, kind: deployment.kind,
                environment: environment, release: release)
            return (bad, live)
        }
        guard let (watchedDeployment, live) = watched else {
            throw ReleaseError.usage("Nothing is live on \(environment.name), so there is nothing to watch. Deploy a release first.")
        }
        progress("Watching \(live.version) on \(environment.name) for \(duration): a probe of \(health.url) every \(health.interval)…")
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: duration.duration)
        var probes = 0
        while true {
            let current = try await database { db in try db.currentLive(environment: watchedDeployment.environmentID) }
            if current?.deploymentID != live.deploymentID {
                return "\(current?.version ?? "Another release") replaced \(live.version) on \(environment.name) during the watch; stopped "
                    + "watching after \(probes) probe\(probes == 1 ? "" : "s")."
            }
            probes += 1
            if let failure = await prober.probeOnce(health) {
                progress("  probe \(probes): \(failure); verifying (\(health.successes) healthy answers within \(health.within))…")
                let verdict = await prober.verify(health)
                try await database { db in
                    try db.recordHealth(environment: watchedDeployment.environmentID, healthy: verdict.passed, detail: verdict.detail)
                }
                if !verdict.passed {
                    do {
                        throw try await releaseFailed(watchedDeployment, finding: .watch, detail: verdict.detail, provider: nil)
                    } catch is NoLongerLive {
                        return "\(live.version) is no longer live on \(environment.name); the failed probe concerned what replaced it, which "
                            + "has its own verification."
                    }
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
            try db.recordHealth(environment: watchedDeployment.environmentID, healthy: true, detail: "healthy throughout a \(duration) watch")
            try db.appendAudit(
                app: watchedDeployment.appID, actor: engine.claimedActor, action: "watch.passed", environment: environment.name,
                version: live.version,
                details: .object([
                    ("deployment", .int(live.deploymentID)),
                    ("for", .string("\(duration)")), ("probes", .int(count)),
                ]))
        }
        return "\(live.version) stayed healthy on \(environment.name) for \(duration) (\(probes) probe\(probes == 1 ? "" : "s"))."
    }
}
