import Foundation
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

/// An environment's `verify:` signals, each with the source that measures it, made (and its
/// credentials checked) before anything starts.
struct SignalPlan: Sendable {
    let verify: VerifyConfiguration
    /// One per signal, in `verify.signals`' order.
    let sources: [any SignalSource]

    /// False in `mode: observe`: measured, recorded and notified, never deciding.
    var enforcing: Bool { verify.mode == .enforce }
}

/// How a deployment's signals came out.
struct SignalsVerdict: Sendable {
    /// What decides: the worst enforcing signal (pass in observe mode).
    var outcome: SignalOutcome
    /// The worst signal, enforcing or not.
    var observed: SignalOutcome
    /// Each signal's verdict and its last measurement, for messages: "error-ratio fail (0.031 > 0.02, …)".
    var summary: String
    /// What the services refused (401, 403, 404), naming the variable to fix.
    var configurationProblems: [String]
}

extension Engine {
    /// The signals of `environment`, each with its source; nil without `verify:`. A source
    /// `monitors:` lacks, or a missing credential, is a usage error (exit 2) before anything starts.
    func signalPlan(for environment: EnvironmentConfiguration) throws -> SignalPlan? {
        guard let verify = environment.verify, !verify.signals.isEmpty else { return nil }
        var made: [Monitor: any SignalSource] = [:]
        let sources = try verify.signals.map { signal in
            let monitor = signal.query.monitor
            let source =
                try made[monitor]
                ?? monitoring.source(
                    for: monitor, monitors: configuration.monitors, environment: providerContext.environment, file: configuration.file)
            made[monitor] = source
            try source.preflight(for: signal.query)
            return source
        }
        return SignalPlan(verify: verify, sources: sources)
    }

    /// The template values of a release in an environment (`{{window}}` filled per measurement).
    /// Without an environment (`release create`), `{{env}}` is empty and `{{service}}` the app.
    func templateValues(_ release: ReleaseRecord, in environment: EnvironmentConfiguration?) -> TemplateValues {
        var values = TemplateValues(
            version: release.version, releaseName: release.version, commit: release.commit ?? "", env: environment?.envLabel ?? "",
            service: environment.map { configuration.serviceLabel($0) } ?? app, window: "")
        if let name = configuration.markers.sentryReleaseName { values.releaseName = Template.render(name, values) }
        return values
    }

    /// Measures the signals of `deployment` (whose release went live at `cutover`): waits `after`
    /// (unless `waitFirst` is false: `release verify`, long after the cutover), then measures every
    /// signal every `every` until `for`, storing each measurement and, at the end, each signal's
    /// verdict. An enforcing signal that fails ends the measuring there: its verdict decides.
    func measureSignals(
        _ plan: SignalPlan, deployment: Int64, release: ReleaseRecord, environment: EnvironmentConfiguration, cutover: Timestamp,
        waitFirst: Bool = true
    ) async throws -> SignalsVerdict {
        let verify = plan.verify
        let count = verify.signals.count
        let signals = "\(count) signal\(count == 1 ? "" : "s")"
        if waitFirst, verify.after > .zero {
            progress("Waiting \(verify.after) before measuring \(signals)…")
            try await Task.sleep(for: verify.after.duration)
        }
        let rounds = verify.rounds
        progress(
            "Measuring \(signals)\(verify.mode == .observe ? " (observe mode: recorded, never deciding)" : ""): "
                + (rounds == 1 ? "one round" : "\(rounds) rounds, every \(verify.every)") + "…")
        var tallies = verify.signals.map { SignalTally($0, rounds: rounds) }
        var last = [JudgedMeasurement](repeating: JudgedMeasurement(outcome: .inconclusive, detail: "", query: ""), count: count)
        var problems: [String] = []
        for round in 1...rounds {
            if round > 1 { try await Task.sleep(for: verify.every.duration) }
            let measured = try await measureRound(
                plan, tallies: &tallies, deployment: deployment, release: release, in: environment, cutover: cutover)
            for (index, measurement) in measured.enumerated() {
                last[index] = measurement
                if let problem = measurement.problem, !problems.contains(problem) { problems.append(problem) }
            }
            progress(
                "  round \(round)/\(rounds): \(Self.described(measured, of: verify.signals))")
            if plan.enforcing, tallies.contains(where: \.failed) { break }
        }
        let verdicts = tallies.map(\.verdict)
        let observed = verdicts.max() ?? .pass
        let outcome = plan.enforcing ? observed : .pass
        let named = zip(verify.signals, verdicts).map { (name: $0.name, verdict: $1) }
        try await database { db in
            try db.setSignalVerdict(deployment: deployment, observed, signals: named)
        }
        // What was asked is named for the signals that did not pass, so a notification shows it.
        let summary = zip(zip(named, last), tallies).map { signal, tally in
            let (named, measurement) = signal
            let streak = tally.failed && tally.failuresNeeded > 1 ? ", \(tally.failuresNeeded) failing measurements in a row" : ""
            let asked = named.verdict == .pass ? "" : "; asked: \(measurement.query)"
            return "\(named.name) \(named.verdict.rawValue) (\(measurement.detail)\(streak)\(asked))"
        }.joined(separator: "; ")
        return SignalsVerdict(outcome: outcome, observed: observed, summary: summary, configurationProblems: problems)
    }

    /// A round of measurements as progress shows it: "error-ratio fail (0.3 > 0.02); p95 pass (0.41)".
    static func described(_ measured: [JudgedMeasurement], of signals: [SignalConfiguration]) -> String {
        zip(signals, measured).map { "\($0.name) \($1.outcome.rawValue) (\($1.detail))" }.joined(separator: "; ")
    }

    /// One measurement as the engine judged it.
    struct JudgedMeasurement: Sendable {
        var outcome: SignalOutcome
        var detail: String
        /// What was asked, templates filled, secrets removed.
        var query: String
        /// A service's refusal of the credentials or the query, naming what to fix.
        var problem: String?
    }

    /// Measures every signal once, together, over windows that end now and never reach before
    /// `cutover`; stores the measurements in one round trip.
    func measureRound(
        _ plan: SignalPlan, tallies: inout [SignalTally], deployment: Int64, release: ReleaseRecord, in environment: EnvironmentConfiguration,
        cutover: Timestamp
    ) async throws -> [JudgedMeasurement] {
        let end = max(Timestamp.now, cutover)
        let base = templateValues(release, in: environment)
        let signals = plan.verify.signals
        let readings = await withTaskGroup(of: (Int, SignalWindow, SignalQuery, Result<SignalReading, any Error>).self) { group in
            for (index, signal) in signals.enumerated() {
                let window =
                    signal.window.map { SignalWindow.clipped(lookBack: $0, end: end, cutover: cutover) }
                    ?? SignalWindow(start: cutover, end: end)
                var values = base
                values.window = window.prometheusDuration
                let query = signal.query.rendered(values)
                let source = plan.sources[index]
                group.addTask {
                    do {
                        return (index, window, query, .success(try await source.measure(query, over: window)))
                    } catch {
                        return (index, window, query, .failure(error))
                    }
                }
            }
            var results: [(Int, SignalWindow, SignalQuery, Result<SignalReading, any Error>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }
        }
        var judged: [JudgedMeasurement] = []
        var records: [SignalMeasurement] = []
        for (index, window, query, result) in readings {
            let signal = signals[index]
            var measurement: JudgedMeasurement
            var value: Double?
            var asked = query.description
            switch result {
            case let .success(reading):
                asked = reading.query
                let verdict = signal.judge(reading)
                value = verdict.value.flatMap { $0.isFinite ? $0 : nil }
                measurement = JudgedMeasurement(outcome: verdict.outcome, detail: verdict.detail, query: asked)
            case let .failure(error as ProviderError) where error.kind == .configuration:
                let message = Secrets.redact(error.message)
                measurement = JudgedMeasurement(outcome: .error, detail: message, query: asked, problem: message)
            case let .failure(error):
                measurement = JudgedMeasurement(outcome: .error, detail: "measuring failed: \(Secrets.redact("\(error)"))", query: asked)
            }
            tallies[index].add(measurement.outcome)
            judged.append(measurement)
            records.append(
                SignalMeasurement(
                    deployment: deployment, signal: signal.name, position: index, monitor: signal.query.monitor, enforcing: plan.enforcing,
                    window: window, query: asked, value: value, outcome: measurement.outcome, detail: measurement.detail,
                    verdict: tallies[index].failed ? .fail : nil, measurements: tallies[index].outcomes.count))
        }
        let stored = records
        try await transaction { db in
            for record in stored { try db.record(record) }
        }
        return judged
    }
}
