import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The Sentry source and release marker against the fake Sentry (Tests/Fakes/sentry), which checks
/// every request against Sentry's OpenAPI description.
@Suite struct SignalSentryTests {
    /// The values a deployment of 1.4.2 renders its queries with; markers name it crm-api@1.4.2.
    static let values = TemplateValues(
        version: "1.4.2", releaseName: "crm-api@1.4.2", commit: "0123abc", env: "production", service: "crm-api", window: "300s")

    static func source(_ fake: FakeAPI, token: String? = nil, retries: MonitorAPI = SignalFixtures.quickRetries) -> SentrySource {
        SentrySource(
            configuration: .init(org: "acme", project: "crm-api", url: fake.url), environment: ["SENTRY_AUTH_TOKEN": token ?? fake.apiKey],
            retries: retries)
    }

    @Test func newIssuesAreTheIssuesFirstSeenInTheReleaseInTheWindowOverEveryPage() async throws {
        try await FakeAPI.sentry { fake in
            try await fake.control(#"{"new_issues": {"crm-api@1.4.2": [2, 0, 250]}}"#)
            let source = Self.source(fake)
            let query = SignalQuery.sentryNewIssues(level: "error").rendered(Self.values)
            var answers: [SignalReading.Answer] = []
            for _ in 0..<3 {
                let reading = try await source.measure(query, over: SignalFixtures.window)
                #expect(reading.query == "issues firstRelease:crm-api@1.4.2 level:error")
                answers.append(reading.answer)
            }
            #expect(answers == [.number(2), .number(0), .number(250)], "250 issues come in three pages of 100")
            let sent = try await fake.logged("/api/0/organizations/acme/issues/")
            #expect(sent.count == 5)
            let first = try #require(sent.first?["query"])
            #expect(first["query"]?.stringValue == "firstRelease:crm-api@1.4.2 level:error")
            #expect(first["project"]?.stringValue == "crm-api")
            #expect(first["start"]?.stringValue == "2026-05-28T20:26:40.000000Z", "the window's start")
            #expect(first["end"]?.stringValue == "2026-05-28T20:31:40.500000Z", "the window's end")
        }
    }

    @Test func errorsAreTheCountOfTheReleasesErrorEventsAndNoRowIsNoData() async throws {
        try await FakeAPI.sentry { fake in
            try await fake.control(#"{"errors": {"crm-api@1.4.2": [5, null]}}"#)
            let source = Self.source(fake)
            let query = SignalQuery.sentryErrors(query: "environment:{{env}}").rendered(Self.values)
            let five = try await source.measure(query, over: SignalFixtures.window)
            #expect(five.answer == .number(5))
            #expect(five.query == "errors release:crm-api@1.4.2 environment:production")
            #expect(try await source.measure(query, over: SignalFixtures.window).answer == .noData)
            let sent = try #require(try await fake.logged("/api/0/organizations/acme/events/").first?["query"])
            #expect(sent["dataset"]?.stringValue == "errors")
            #expect(sent["field"]?.stringValue == "count()")
        }
    }

    @Test func aMissingRejectedOrRefusedTokenIsNamedWithItsScopeAndNeverShownEvenWhenEchoed() async throws {
        let unset = SentrySource(configuration: .init(org: "acme", project: "crm-api"), environment: [:])
        let usage = #expect(throws: ReleaseError.self) { try unset.preflight(for: .sentryErrors(query: nil)) }
        #expect(usage?.message.hasPrefix("SENTRY_AUTH_TOKEN is not set. Export SENTRY_AUTH_TOKEN") == true)
        try await FakeAPI.sentry { fake in
            let rejected = await #expect(throws: ProviderError.self) {
                try await Self.source(fake, token: "sntrys_wrong").measure(
                    SignalQuery.sentryNewIssues(level: nil).rendered(Self.values), over: SignalFixtures.window)
            }
            #expect(rejected?.kind == .configuration)
            #expect(rejected?.message.contains("Sentry rejected SENTRY_AUTH_TOKEN (HTTP 401, Invalid token)") == true)
        }
        let token = "sntrys_\(UUID().uuidString.prefix(12))"
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 403, body: #"{"detail": "You do not have permission to perform this action with \#(token)."}"#)
        } body: { server in
            let source = SentrySource(
                configuration: .init(org: "acme", project: "crm-api", url: "http://127.0.0.1:\(server.port)"),
                environment: ["SENTRY_AUTH_TOKEN": token])
            for (query, scope) in [(SignalQuery.sentryNewIssues(level: nil), "event:read"), (.sentryErrors(query: nil), "org:read")] {
                let refused = await #expect(throws: ProviderError.self) {
                    try await source.measure(query.rendered(Self.values), over: SignalFixtures.window)
                }
                #expect(refused?.kind == .configuration)
                #expect(refused?.message.contains("Sentry refused SENTRY_AUTH_TOKEN for GET /organizations/acme/") == true)
                #expect(refused?.message.contains("Use a token with the \(scope) scope in acme.") == true)
                #expect(refused?.message.contains(token) == false)
            }
            let marker = SentryMarker(
                configuration: .init(org: "acme", project: "crm-api", url: "http://127.0.0.1:\(server.port)"),
                environment: ["SENTRY_AUTH_TOKEN": token])
            let release = await #expect(throws: ProviderError.self) { try await marker.mark(SignalFixtures.mark(.created)) }
            #expect(release?.message.contains("Use a token with the project:releases scope in acme.") == true)
        }
    }

    @Test func aRateLimitIsWaitedOutAndAServerThatKeepsFailingIsUnreachable() async throws {
        try await FakeAPI.sentry { fake in
            try await fake.control(#"{"errors": {"crm-api@1.4.2": 1}, "rate_limit_next": 1, "retry_after": 1}"#)
            let query = SignalQuery.sentryErrors(query: nil).rendered(Self.values)
            let started = ContinuousClock.now
            #expect(try await Self.source(fake, retries: .sources).measure(query, over: SignalFixtures.window).answer == .number(1))
            #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After was honoured")

            try await fake.control(#"{"fail_all": 500}"#)
            let error = await #expect(throws: ProviderError.self) { try await Self.source(fake).measure(query, over: SignalFixtures.window) }
            #expect(error?.kind == .unreachable)
            #expect(error?.message.contains("Sentry kept failing GET /organizations/acme/events/ (HTTP 500") == true)
        }
    }

    @Test func aReleaseIsMarkedOnCreateAndADeployAtEveryCutoverEvenWhenTheReleaseExists() async throws {
        try await FakeAPI.sentry { fake in
            let marker = SentryMarker(
                configuration: .init(org: "acme", project: "crm-api", url: fake.url), environment: ["SENTRY_AUTH_TOKEN": fake.apiKey],
                retries: SignalFixtures.quickRetries)
            for kind in [DeployMark.Kind.created, .cutover, .rollback, .verificationFailed, .cutover] {
                try await marker.mark(SignalFixtures.mark(kind))
            }
            let releases = try await fake.state()["releases"]?.arrayValue ?? []
            #expect(releases.count == 1)
            let release = try #require(releases.first)
            #expect(release["version"]?.stringValue == "crm-api@1.4.2")
            #expect(release["projectSlugs"]?.arrayValue == [.string("crm-api")])
            #expect(release["ref"]?.stringValue == "0123456789abcdef0123456789abcdef01234567")
            let deploys = release["deploys"]?.arrayValue ?? []
            #expect(deploys.count == 3, "one deploy per cutover, a rollback's too; none for a failed verification")
            #expect(deploys.allSatisfy { $0["environment"]?.stringValue == "production" })
            #expect(deploys.first?["dateFinished"]?.stringValue == "2026-05-28T20:26:40.000000Z")
            let created = try await fake.logged("/api/0/organizations/acme/releases/").map { $0["status"]?.intValue }
            #expect(created == [201, 208, 208, 208], "a release that exists is fine")

            let fresh = SentryMarker(
                configuration: .init(org: "acme", project: "crm-api", url: fake.url), environment: ["SENTRY_AUTH_TOKEN": fake.apiKey])
            var other = SignalFixtures.mark(.cutover)
            other.releaseName = "crm-api@1.5.0"
            try await fresh.mark(other)
            #expect(try await fake.state()["releases"]?.arrayValue?.count == 2, "a cutover creates the release it deploys when missing")
        }
    }
}
