import Foundation
import ProviderKit
import ReleaseCore
import ReleaseEngine
import ReleaseStore
import Testing

/// A monitoring service whose answers the test scripts: per query, a list of answers taken one per
/// measurement (the last repeats); an error answer throws as a service that kept failing does.
final class ScriptedSignals: SignalSource, @unchecked Sendable {
    enum Answer: Sendable {
        case value(Double)
        case noData
        case unreachable
    }

    private let lock = NSLock()
    private var scripts: [String: [Answer]] = [:]
    private var windows: [SignalWindow] = []

    /// Scripts the answers to `query`.
    func answer(_ query: String, _ answers: Answer...) {
        lock.withLock { scripts[query] = answers }
    }

    /// Every window asked, in order.
    var asked: [SignalWindow] { lock.withLock { windows } }

    func preflight(for query: SignalQuery) throws {}

    func measure(_ query: SignalQuery, over window: SignalWindow) async throws -> SignalReading {
        let answer: Answer = lock.withLock {
            windows.append(window)
            let key = query.description
            guard var list = scripts[key], let first = list.first else { return .noData }
            if list.count > 1 { list.removeFirst() }
            scripts[key] = list
            return first
        }
        switch answer {
        case let .value(number): return SignalReading(.number(number), query: query.description)
        case .noData: return SignalReading(.noData, query: query.description)
        case .unreachable: throw ProviderError(.unreachable, "Prometheus kept failing GET /api/v1/query (HTTP 503).")
        }
    }

    /// A registry whose Prometheus is this.
    var registry: MonitoringRegistry {
        var registry = MonitoringRegistry()
        registry.register(.prometheus) { _, _ in self }
        return registry
    }
}

/// Verification by signals, in-process: the health URL passes, then the scripted signals decide.
@Suite struct EngineSignalsTests {
    /// `main` with one signal, `errors`, measured three times 100ms apart.
    static func main(
        _ fixture: EngineFixture, mode: VerifyConfiguration.Mode = .enforce, noData: SignalConfiguration.NoData = .inconclusive,
        onInconclusive: VerifyConfiguration.InconclusivePolicy = .hold
    ) -> EnvironmentConfiguration {
        var main = fixture.main()
        main.verify = VerifyConfiguration(
            after: .zero, duration: .milliseconds(200), every: .milliseconds(100), onInconclusive: onInconclusive, mode: mode,
            signals: [
                SignalConfiguration(
                    name: "error-ratio", query: .prometheusQuery("errors"), window: .minutes(5), failIf: Threshold(.greater, 0.02),
                    passIf: Threshold(.less, 0.01), noData: noData)
            ])
        return main
    }

    @Test func aSignalFailingTwiceInARowRollsBackAndNoWindowReachesBeforeTheCutover() async throws {
        try await EngineFixture.with { fixture in
            let signals = ScriptedSignals()
            let main = Self.main(fixture)
            try await fixture.create("1.0.0", "1.1.0")
            signals.answer("errors", .value(0.001))
            _ = try await fixture.engine(main, monitoring: signals.registry).run(OperationPlan(kind: .deploy, environment: main, version: "1.0.0"))
            signals.answer("errors", .value(0.5), .value(0.3))
            let engine = try await fixture.engine(main, monitoring: signals.registry)
            let error = try await fixture.failure { try await engine.run(OperationPlan(kind: .deploy, environment: main, version: "1.1.0")) }
            #expect(error.code == .deploymentFailed)
            #expect(error.message.contains("error-ratio fail (0.3 > 0.02, 2 failing measurements in a row; asked: errors)"), "\(error.message)")
            #expect(error.message.hasSuffix("1.1.0 is quarantined; main was rolled back to 1.0.0 and is healthy."), "\(error.message)")
            #expect(try await fixture.status().live?.version == "1.0.0")
            let failed = try #require(try await fixture.history().first { $0.version == "1.1.0" })
            #expect(failed.state == .rolledBack)
            #expect(failed.signals.map(\.verdict) == ["fail"])
            #expect(failed.signals.first?.value == 0.3)
            // The rollback measured nothing: 3 rounds for 1.0.0, then 2 for 1.1.0.
            #expect(signals.asked.count == 5)
            let cutovers = try await fixture.history().compactMap(\.cutoverAt)
            let windowsOf110 = signals.asked.suffix(2)
            #expect(windowsOf110.allSatisfy { window in cutovers.contains { $0 <= window.start } && window.start <= window.end })
            let stored = try await fixture.database { db in
                try db.query(
                    "SELECT count(*) AS n FROM signal_measurements m JOIN deployments d ON d.id = m.deployment_id WHERE m.window_start < d.cutover_at"
                )
                .first?.int64("n")
            }
            #expect(stored == 0)
        }
    }

    @Test func oneBlipDoesNotRollBack() async throws {
        try await EngineFixture.with { fixture in
            let signals = ScriptedSignals()
            let main = Self.main(fixture)
            try await fixture.create("1.0.0")
            signals.answer("errors", .value(0.5), .value(0.001), .value(0.002))
            let report = try await fixture.engine(main, monitoring: signals.registry).run(
                OperationPlan(kind: .deploy, environment: main, version: "1.0.0"))
            #expect(report.message.contains("error-ratio pass (0.002 < 0.01)"), "\(report.message)")
            let deployment = try #require(try await fixture.history().first)
            #expect(deployment.state == .live && deployment.verified)
            #expect(deployment.signals.first?.measurements == 3)
        }
    }

    @Test func noDataHoldsTheReleaseLiveUnverifiedUntilAPersonAcceptsIt() async throws {
        try await EngineFixture.with { fixture in
            let signals = ScriptedSignals()
            let main = Self.main(fixture)
            try await fixture.create("1.0.0")
            signals.answer("errors", .noData)
            let engine = try await fixture.engine(main, monitoring: signals.registry)
            let held = try await fixture.failure { try await engine.run(OperationPlan(kind: .deploy, environment: main, version: "1.0.0")) }
            #expect(held.code == .held)
            #expect(
                held.message.contains(
                    "1.0.0 is live on main but not verified: its signals were inconclusive (error-ratio inconclusive (no data; asked: errors))"))
            let status = try await fixture.status()
            #expect(status.live?.version == "1.0.0" && status.live?.verified == false)
            #expect(status.health == "held")
            #expect(try await fixture.auditActions().last == "deploy.held")

            let accepted = try await engine.accept(main, reason: "quiet at night; checked the logs")
            #expect(accepted.hasPrefix("1.0.0 on main is verified: accepted by alice"))
            #expect(try await fixture.status().live?.verified == true)
            #expect(try await fixture.status().live?.acceptedAt != nil)
            let again = try await fixture.failure { try await engine.accept(main, reason: "twice") }
            #expect(again.code == .usage)
            #expect(try await fixture.auditActions().last == "deployment.accepted")
        }
    }

    @Test func aServiceFailingTheWholeTimeIsInconclusiveNeverAPass() async throws {
        try await EngineFixture.with { fixture in
            let signals = ScriptedSignals()
            let main = Self.main(fixture, noData: .pass)
            try await fixture.create("1.0.0")
            signals.answer("errors", .unreachable)
            let engine = try await fixture.engine(main, monitoring: signals.registry)
            let held = try await fixture.failure { try await engine.run(OperationPlan(kind: .deploy, environment: main, version: "1.0.0")) }
            #expect(held.code == .held)
            #expect(held.message.contains("error-ratio inconclusive (measuring failed: "), "\(held.message)")
            let stored = try await fixture.database { db in
                try db.query("SELECT outcome FROM signal_measurements ORDER BY id").map { try $0.string("outcome") }
            }
            #expect(stored == ["error", "error", "error"])
        }
    }

    @Test func observeModeRecordsAFailureButNeverDecides() async throws {
        try await EngineFixture.with { fixture in
            let signals = ScriptedSignals()
            let main = Self.main(fixture, mode: .observe)
            try await fixture.create("1.0.0")
            signals.answer("errors", .value(0.9))
            let report = try await fixture.engine(main, monitoring: signals.registry).run(
                OperationPlan(kind: .deploy, environment: main, version: "1.0.0"))
            #expect(report.message.hasPrefix("1.0.0 is live on main"))
            let deployment = try #require(try await fixture.history().first)
            #expect(deployment.verified)
            #expect(deployment.signals.map(\.verdict) == ["fail"])
            #expect(deployment.signals.first?.enforcing == false)
        }
    }

    @Test func verifyMeasuresAgainAndVerifiesAHeldRelease() async throws {
        try await EngineFixture.with { fixture in
            let signals = ScriptedSignals()
            let main = Self.main(fixture)
            try await fixture.create("1.0.0")
            signals.answer("errors", .noData)
            let engine = try await fixture.engine(main, monitoring: signals.registry)
            _ = try await fixture.failure { try await engine.run(OperationPlan(kind: .deploy, environment: main, version: "1.0.0")) }
            let stillQuiet = try await fixture.failure { try await engine.reverify(main) }
            #expect(stillQuiet.code == .held)
            #expect(stillQuiet.message.contains("it stays live and not verified"))
            signals.answer("errors", .value(0.001))
            let passed = try await engine.reverify(main)
            #expect(passed.hasPrefix("1.0.0 on main passed its signals and is now verified"))
            #expect(try await fixture.status().live?.verified == true)
            signals.answer("errors", .value(0.5))
            let failed = try await fixture.failure { try await engine.reverify(main) }
            #expect(failed.code == .deploymentFailed)
            #expect(failed.message.hasPrefix("1.0.0 failed its signals on main when measured again (signals: error-ratio fail"))
            #expect(try await fixture.release("1.0.0").isQuarantined)
        }
    }
}
