import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The Prometheus source against the fake Prometheus (Tests/Fakes/prometheus), which checks every
/// request against Prometheus's OpenAPI description.
@Suite struct SignalPrometheusTests {
    static let errorRatio = #"sum(rate(http_requests_total{status=~"5..",version="1.4.2"}[300s])) / sum(rate(http_requests_total[300s]))"#

    static func source(_ fake: FakeAPI, token: String? = nil, retries: MonitorAPI = SignalFixtures.quickRetries) -> PrometheusSource {
        PrometheusSource(
            configuration: .init(url: fake.url, tokenVariable: "PROMETHEUS_TOKEN"),
            environment: ["PROMETHEUS_TOKEN": token ?? fake.apiKey], retries: retries)
    }

    @Test func anInstantQueryAtTheWindowsEndIsItsLargestSeriesAndNoSeriesOrNaNIsNoData() async throws {
        try await FakeAPI.prometheus { fake in
            try await fake.control(
                #"{"values": {"http_requests_total": [0.01, null, "NaN", {"series": [{"metric": {"pod": "a"}, "value": 0.1}, "#
                    + #"{"metric": {"pod": "b"}, "value": 0.3}]}]}}"#)
            let source = Self.source(fake)
            let window = SignalFixtures.window
            var answers: [SignalReading.Answer] = []
            for _ in 0..<4 {
                let reading = try await source.measure(.prometheusQuery(Self.errorRatio), over: window)
                #expect(reading.query == Self.errorRatio, "the stored query is the PromQL as sent")
                answers.append(reading.answer)
            }
            #expect(answers == [.number(0.01), .noData, .noData, .number(0.3)])
            let sent = try await fake.logged("/api/v1/query")
            #expect(sent.count == 4)
            let times = sent.map { $0["params"]?["time"].flatMap { $0.doubleValue ?? $0.stringValue.flatMap(Double.init) } }
            #expect(times == Array(repeating: 1_780_000_300.5, count: 4), "evaluated at the window's end")
            #expect(sent.first?["params"]?["query"]?.stringValue == Self.errorRatio)
        }
    }

    @Test func anAlertFiringFailsPendingIsInconclusiveAndAbsentPasses() async throws {
        try await FakeAPI.prometheus { fake in
            let source = Self.source(fake)
            let alert = SignalQuery.prometheusAlert("CrmApiHighErrorRate")
            #expect(try await source.measure(alert, over: SignalFixtures.window).answer == .state(.pass, "not firing"))
            try await fake.control(#"{"alerts": {"CrmApiHighErrorRate": "pending", "OtherAlert": "firing"}}"#)
            #expect(try await source.measure(alert, over: SignalFixtures.window).answer == .state(.inconclusive, "pending"))
            try await fake.control(#"{"alerts": {"CrmApiHighErrorRate": "firing"}}"#)
            let firing = try await source.measure(alert, over: SignalFixtures.window)
            #expect(firing.answer == .state(.fail, "firing"))
            #expect(firing.query == "alert CrmApiHighErrorRate")
        }
    }

    @Test func aMissingOrRejectedTokenIsAConfigurationErrorNamingItsVariableAndNeverShowingIt() async throws {
        let unset = PrometheusSource(configuration: .init(url: "http://127.0.0.1:9", tokenVariable: "PROMETHEUS_TOKEN"), environment: [:])
        let usage = #expect(throws: ReleaseError.self) { try unset.preflight(for: .prometheusAlert("A")) }
        #expect(usage?.message.hasPrefix("PROMETHEUS_TOKEN is not set. Export PROMETHEUS_TOKEN") == true)
        try await FakeAPI.prometheus { fake in
            let wrong = "prom-wrong-\(UUID().uuidString.prefix(8))"
            let error = await #expect(throws: ProviderError.self) {
                try await Self.source(fake, token: wrong).measure(.prometheusQuery("up"), over: SignalFixtures.window)
            }
            #expect(error?.kind == .configuration)
            #expect(error?.message.contains("Prometheus rejected PROMETHEUS_TOKEN (HTTP 401") == true)
            #expect(error?.message.contains(wrong) == false)
        }
    }

    @Test func aRateLimitIsWaitedOutAndAServerThatKeepsFailingIsUnreachable() async throws {
        try await FakeAPI.prometheus { fake in
            try await fake.control(#"{"values": {"up": 1}, "rate_limit_next": 1, "retry_after": 1}"#)
            let started = ContinuousClock.now
            let reading = try await Self.source(fake, retries: .sources).measure(.prometheusQuery("up"), over: SignalFixtures.window)
            #expect(reading.answer == .number(1))
            #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After was honoured")

            try await fake.control(#"{"fail_all": 500}"#)
            let error = await #expect(throws: ProviderError.self) {
                try await Self.source(fake).measure(.prometheusQuery("up"), over: SignalFixtures.window)
            }
            #expect(error?.kind == .unreachable)
            #expect(error?.message.contains("Prometheus kept failing GET /api/v1/query (HTTP 500") == true)
            let failed = try await fake.logged("/api/v1/query").filter { $0["status"]?.intValue == 500 }
            #expect(failed.count == SignalFixtures.quickRetries.maxAttempts, "a read is tried again, a bounded number of times")
        }
    }
}
