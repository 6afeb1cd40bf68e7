import Foundation
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

extension Engine {
    /// `release watch ENV --for D`: keeps probing what is live, and measuring its signals
    /// (`verify:`) every `every`; on a probe failure that a full verification confirms, or a signal
    /// failing `failures` measurements in a row, quarantines it and rolls back, as promotion's own
    /// verification does. A rollback is never rolled back: a failing rollback is reported for a human.
    public func watch(_ environment: EnvironmentConfiguration, for duration: TimeSpan) async throws -> String {
        let signals = try signalPlan(for: environment)
        guard environment.health != nil || signals != nil else {
            throw ReleaseError.usage(
                "\(environment.name) has neither a `health:` block nor `verify.signals` in \(configuration.file); watch needs something to "
                    + "measure.")
        }
        let engine = self
        let (watched, live) = try await liveDeployment(environment, toDo: "watch")
        let measured = [
            environment.health.map { "a probe of \($0.url) every \($0.interval)" },
            signals.map { "\($0.verify.signals.count) signal(s) every \($0.verify.every)" },
        ].compactMap { $0 }.joined(separator: " and ")
        progress("Watching \(live.version) on \(environment.name) for \(duration): \(measured)…")
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: duration.duration)
        var probes = 0
        var rounds = 0
        var nextRound = clock.now
        // Over a whole watch a signal fails after `failures` failing measurements in a row, as in a long verification.
        var tallies = signals.map { plan in plan.verify.signals.map { SignalTally($0, rounds: .max) } } ?? []
        func failed(_ what: String, noticed: String, _ detail: String) async throws -> String {
            do {
                throw try await releaseFailed(watched, finding: .watch(what), detail: detail, provider: nil)
            } catch is NoLongerLive {
                return "\(live.version) is no longer live on \(environment.name); the \(noticed) concerned what replaced it, which has its "
                    + "own verification."
            }
        }
        while true {
            let current = try await database { db in try db.currentLive(environment: watched.environmentID) }
            if current?.deploymentID != live.deploymentID {
                return "\(current?.version ?? "Another release") replaced \(live.version) on \(environment.name) during the watch; stopped "
                    + "watching after \(probes) probe\(probes == 1 ? "" : "s") and \(rounds) signal round\(rounds == 1 ? "" : "s")."
            }
            if let health = environment.health {
                probes += 1
                if let failure = await prober.probeOnce(health) {
                    progress("  probe \(probes): \(failure); verifying (\(health.successes) healthy answers within \(health.within))…")
                    let verdict = await prober.verify(health)
                    try await database { db in
                        try db.recordHealth(environment: watched.environmentID, healthy: verdict.passed, detail: verdict.detail)
                    }
                    if !verdict.passed { return try await failed("its health probe", noticed: "failed probe", verdict.detail) }
                    progress("  recovered: \(verdict.detail)")
                }
            }
            if let plan = signals, clock.now >= nextRound {
                rounds += 1
                nextRound = clock.now.advanced(by: plan.verify.every.duration)
                let results = try await measureRound(
                    plan, tallies: &tallies, deployment: watched.id, release: watched.release, in: environment, cutover: live.since)
                progress("  signals \(rounds): \(Self.described(results, of: plan.verify.signals))")
                let failing = zip(plan.verify.signals, zip(tallies, results)).filter { $1.0.failed }
                if plan.enforcing, !failing.isEmpty {
                    let detail = failing.map { "\($0.name): \($1.1.detail), \($1.0.failuresNeeded) failing measurements in a row" }
                    return try await failed("its signals", noticed: "failing signal", detail.joined(separator: "; "))
                }
            }
            let remaining = deadline - clock.now
            if remaining <= .zero { break }
            var pause = remaining
            if let health = environment.health { pause = min(pause, health.interval.duration) }
            if signals != nil { pause = min(pause, max(.zero, nextRound - clock.now)) }
            try await Task.sleep(for: pause)
            if clock.now >= deadline { break }
        }
        let (count, measuredRounds) = (Int64(probes), Int64(rounds))
        try await database { db in
            if environment.health != nil {
                try db.recordHealth(environment: watched.environmentID, healthy: true, detail: "healthy throughout a \(duration) watch")
            }
            try db.appendAudit(
                app: watched.appID, actor: engine.claimedActor, action: "watch.passed", environment: environment.name,
                version: live.version,
                details: .object([
                    ("deployment", .int(live.deploymentID)),
                    ("for", .string("\(duration)")), ("probes", .int(count)), ("signal_rounds", .int(measuredRounds)),
                ]))
        }
        let what = [
            environment.health != nil ? "\(probes) probe\(probes == 1 ? "" : "s")" : nil,
            signals != nil ? "\(rounds) signal round\(rounds == 1 ? "" : "s")" : nil,
        ].compactMap { $0 }.joined(separator: ", ")
        return "\(live.version) stayed healthy on \(environment.name) for \(duration) (\(what))."
    }

    /// What is live on `environment`, as the deployment that put it there; a usage error when
    /// nothing is (`toDo` names the command: "watch", "verify").
    func liveDeployment(_ environment: EnvironmentConfiguration, toDo: String) async throws -> (StartedDeployment, LiveRelease) {
        let found: (StartedDeployment, LiveRelease)? = try await database { [app] db in
            let appID = try db.ensureApp(named: app)
            let environmentID = try db.ensureEnvironment(app: appID, named: environment.name)
            guard let live = try db.currentLive(environment: environmentID),
                let deployment = try db.deployment(id: live.deploymentID), let release = try db.release(id: live.releaseID)
            else { return nil }
            let started = StartedDeployment(
                id: live.deploymentID, appID: appID, environmentID: environmentID, kind: deployment.kind,
                environment: environment, release: release)
            return (started, live)
        }
        guard let found else {
            throw ReleaseError.usage("Nothing is live on \(environment.name), so there is nothing to \(toDo). Deploy a release first.")
        }
        return found
    }
}
