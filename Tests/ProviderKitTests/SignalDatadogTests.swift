import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The Datadog source and event marker against the fake Datadog API (Tests/Fakes/datadog), which
/// checks every request against Datadog's OpenAPI description and the keys each operation needs.
@Suite struct SignalDatadogTests {
    static let p95 = "p95:trace.django.request{service:crm-api,version:1.4.2}"

    static func environment(_ fake: FakeAPI, apiKey: String? = nil, appKey: String? = nil) -> [String: String] {
        ["DD_API_KEY": apiKey ?? fake.apiKey, "DD_APP_KEY": appKey ?? fake.appKey]
    }

    static func source(_ fake: FakeAPI, _ environment: [String: String]? = nil, retries: MonitorAPI = SignalFixtures.quickRetries) -> DatadogSource {
        DatadogSource(
            configuration: .init(site: "datadoghq.eu", apiURL: fake.url), environment: environment ?? Self.environment(fake), retries: retries)
    }

    static func marker(_ fake: FakeAPI, _ environment: [String: String]? = nil) -> DatadogMarker {
        DatadogMarker(
            configuration: .init(site: "datadoghq.eu", apiURL: fake.url), environment: environment ?? ["DD_API_KEY": fake.apiKey],
            retries: SignalFixtures.quickRetries)
    }

    @Test func aQueryOverTheWindowIsItsLastNonNullPointAndNoSeriesOrOnlyGapsIsNoData() async throws {
        try await FakeAPI.datadog { fake in
            try await fake.control(#"{"values": {"trace.django.request": [0.4, null, "NaN", {"pointlist": [0.9, 0.2, null]}]}}"#)
            let source = Self.source(fake)
            var answers: [SignalReading.Answer] = []
            for _ in 0..<4 {
                let reading = try await source.measure(.datadogQuery(Self.p95), over: SignalFixtures.window)
                #expect(reading.query == Self.p95)
                answers.append(reading.answer)
            }
            #expect(answers == [.number(0.4), .noData, .noData, .number(0.2)])
            let sent = try await fake.logged("/api/v1/query")
            #expect(sent.count == 4)
            #expect(sent.first?["query"]?["from"]?.stringValue == "1780000000", "the window's start, in Unix seconds")
            #expect(sent.first?["query"]?["to"]?.stringValue == "1780000300")
            #expect(sent.first?["query"]?["query"]?.stringValue == Self.p95)
        }
    }

    @Test func aMonitorOKPassesAlertFailsAndEveryOtherStateIsInconclusive() async throws {
        try await FakeAPI.datadog { fake in
            let source = Self.source(fake)
            let monitor = SignalQuery.datadogMonitor(1_234_567)
            var answers: [SignalReading.Answer] = []
            for state in ["OK", "Alert", "Warn", "No Data"] {
                try await fake.control(#"{"monitors": {"1234567": "\#(state)"}}"#)
                let reading = try await source.measure(monitor, over: SignalFixtures.window)
                #expect(reading.query == "monitor 1234567")
                answers.append(reading.answer)
            }
            #expect(answers == [.state(.pass, "OK"), .state(.fail, "Alert"), .state(.inconclusive, "Warn"), .state(.inconclusive, "No Data")])

            let unknown = await #expect(throws: ProviderError.self) {
                try await source.measure(.datadogMonitor(7_654_321), over: SignalFixtures.window)
            }
            #expect(unknown?.kind == .configuration)
            #expect(unknown?.message.contains("Datadog does not know GET /api/v1/monitor/7654321 (HTTP 404, Monitor not found)") == true)
        }
    }

    @Test func keysThatAreMissingOrRefusedAreNamedWithThePermissionNeededButNeverShown() async throws {
        let unset = DatadogSource(configuration: .init(), environment: ["DD_API_KEY": "set"])
        let usage = #expect(throws: ReleaseError.self) { try unset.preflight(for: .datadogQuery(Self.p95)) }
        #expect(usage?.message.hasPrefix("DD_APP_KEY is not set. Export DD_APP_KEY") == true)
        try await FakeAPI.datadog { fake in
            let wrong = "dd-wrong-app-\(UUID().uuidString.prefix(8))"
            let query = await #expect(throws: ProviderError.self) {
                try await Self.source(fake, Self.environment(fake, appKey: wrong)).measure(.datadogQuery(Self.p95), over: SignalFixtures.window)
            }
            #expect(query?.kind == .configuration)
            #expect(query?.message.contains("Datadog refused DD_API_KEY and DD_APP_KEY for GET /api/v1/query (HTTP 403, Forbidden)") == true)
            #expect(query?.message.contains("the timeseries_query permission") == true)
            let monitor = await #expect(throws: ProviderError.self) {
                try await Self.source(fake, Self.environment(fake, appKey: wrong)).measure(.datadogMonitor(1), over: SignalFixtures.window)
            }
            #expect(monitor?.message.contains("the monitors_read permission") == true)
            for error in [query, monitor] { #expect(error?.message.contains(wrong) == false) }
            let logged = try await fake.logged()
            #expect(logged.allSatisfy { !$0.text.contains(wrong) }, "and never sent anywhere but the header")
        }
    }

    @Test func datadogsRateLimitIsWaitedOutAndAServerThatKeepsFailingIsUnreachable() async throws {
        try await FakeAPI.datadog { fake in
            try await fake.control(#"{"values": {"trace.django.request": 0.5}, "rate_limit_next": 1, "retry_after": 1}"#)
            let started = ContinuousClock.now
            let reading = try await Self.source(fake, retries: .sources).measure(.datadogQuery(Self.p95), over: SignalFixtures.window)
            #expect(reading.answer == .number(0.5))
            let waited = ContinuousClock.now - started
            #expect(waited >= .seconds(1) && waited < .seconds(10), "X-RateLimit-Reset: 1 is one second from now")

            try await fake.control(#"{"fail_all": 500}"#)
            let error = await #expect(throws: ProviderError.self) {
                try await Self.source(fake).measure(.datadogMonitor(1_234_567), over: SignalFixtures.window)
            }
            #expect(error?.kind == .unreachable)
            #expect(error?.message.contains("Datadog kept failing GET /api/v1/monitor/1234567 (HTTP 500") == true)
        }
    }

    @Test func eventsMarkCutoversRollbacksAndFailedVerificationsWithTheAPIKeyAlone() async throws {
        try await FakeAPI.datadog { fake in
            let marker = Self.marker(fake)
            for kind in [DeployMark.Kind.created, .cutover, .rollback, .verificationFailed] {
                try await marker.mark(SignalFixtures.mark(kind))
            }
            let events = try await fake.state()["events"]?.arrayValue ?? []
            #expect(
                events.map { $0["title"]?.stringValue ?? "" } == [
                    "crm-api 1.4.2 live on production", "crm-api rolled back to 1.4.2 on production",
                    "crm-api 1.4.2 failed verification on production",
                ], "nothing for `release create`")
            #expect(events.map { $0["alert_type"]?.stringValue ?? "" } == ["info", "warning", "error"])
            #expect(
                events.first?["tags"]?.arrayValue?.compactMap(\.stringValue) == [
                    "service:crm-api", "env:production", "version:1.4.2", "release:crm-api@1.4.2",
                ])
            #expect(events.first?["text"]?.stringValue == "crm-api 1.4.2 is live on production.")
            let posted = try await fake.logged("/api/v1/events")
            #expect(posted.allSatisfy { $0["status"]?.intValue == 202 })

            let wrong = "dd-wrong-api-\(UUID().uuidString.prefix(8))"
            let refused = await #expect(throws: ProviderError.self) {
                try await Self.marker(fake, ["DD_API_KEY": wrong]).mark(SignalFixtures.mark(.cutover))
            }
            #expect(refused?.kind == .configuration)
            #expect(refused?.message.contains("Datadog refused DD_API_KEY for POST /api/v1/events (HTTP 403") == true)
            #expect(refused?.message.contains(wrong) == false)
            let unset = await #expect(throws: ProviderError.self) { try await Self.marker(fake, [:]).mark(SignalFixtures.mark(.cutover)) }
            #expect(unset?.message.hasPrefix("DD_API_KEY is not set.") == true)
        }
    }
}
