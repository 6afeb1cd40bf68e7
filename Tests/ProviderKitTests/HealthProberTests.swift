import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

@Suite("HealthProber")
struct HealthProberTests {
    /// A check against `url` with short pauses, so the suite stays fast. The per-request timeout
    /// is generous because the loopback server answers at once unless told to wait: only tests
    /// about slow answers shorten it, so a busy machine does not turn answers into timeouts.
    static func check(
        _ url: String, expectStatus: Int = 200, expectBody: String? = nil, timeout: TimeSpan = .seconds(5),
        interval: TimeSpan = .milliseconds(50), successes: Int = 3, within: TimeSpan = .seconds(10)
    ) -> HealthCheckConfiguration {
        HealthCheckConfiguration(
            url: url, expectStatus: expectStatus, expectBody: expectBody, timeout: timeout,
            interval: interval, successes: successes, within: within)
    }

    struct Attempt: Sendable, Equatable {
        var number: Int
        var failure: String?
    }

    @Test("passes after the required number of consecutive healthy answers, and stops probing then")
    func passesAfterConsecutiveSuccesses() async throws {
        let paths = Collected<String>()
        try await LoopbackHTTPServer.withServer { request in
            paths.append(request.path)
            return .healthy
        } body: { server in
            let verdict = await HealthProber().verify(Self.check(server.url("/health/"), successes: 3))
            #expect(verdict.passed)
            #expect(verdict.attempts == 3)
            #expect(verdict.detail == "3 consecutive healthy answers from \(server.url("/health/"))")
            #expect(server.requestCount == 3)
            #expect(paths.values == ["/health/", "/health/", "/health/"])
        }
    }

    @Test("keeps probing through failures until enough answers in a row are healthy, reporting each attempt")
    func failsTwiceThenPasses() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number <= 2 ? .init(status: 503, body: "starting") : .healthy
        } body: { server in
            let attempts = Collected<Attempt>()
            let verdict = await HealthProber().verify(Self.check(server.url(), successes: 2)) { number, failure in
                attempts.append(Attempt(number: number, failure: failure))
            }
            #expect(verdict.passed)
            #expect(verdict.attempts == 4)
            #expect(attempts.values.map(\.number) == [1, 2, 3, 4])
            #expect(attempts.values.map { $0.failure == nil } == [false, false, true, true])
            #expect(attempts.values.first?.failure?.contains("HTTP 503") == true)
        }
    }

    @Test("a failure between healthy answers starts the count again")
    func failureResetsStreak() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number == 3 ? .init(status: 500, body: "database unavailable") : .healthy
        } body: { server in
            let verdict = await HealthProber().verify(Self.check(server.url(), successes: 3))
            #expect(verdict.passed)
            #expect(verdict.attempts == 6, "ok, ok, 500, then three more ok answers are needed")
        }
    }

    @Test("an unexpected status fails, and the detail names the status, the expected one and the body")
    func wrongStatusFails() async throws {
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 503, body: "down for maintenance\nsecond line")
        } body: { server in
            // 5s, not less: on a loaded machine the first answer alone once took nearly 2s, so the
            // prober never got to look twice.
            let verdict = await HealthProber().verify(Self.check(server.url(), within: .seconds(5)))
            #expect(!verdict.passed)
            #expect(verdict.attempts > 1)
            #expect(verdict.detail == "not healthy within 5s: HTTP 503 (expected 200): down for maintenance")
        }
    }

    @Test("expect_status other than 200 is what counts as healthy")
    func customExpectedStatus() async throws {
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 200, body: "ok")
        } body: { server in
            let verdict = await HealthProber().verify(Self.check(server.url(), expectStatus: 204, successes: 1, within: .seconds(2)))
            #expect(!verdict.passed)
            #expect(verdict.detail.contains("HTTP 200 (expected 204)"))
        }
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 204, body: "")
        } body: { server in
            let verdict = await HealthProber().verify(Self.check(server.url(), expectStatus: 204, successes: 2))
            #expect(verdict.passed)
            #expect(verdict.attempts == 2)
        }
    }

    @Test("expect_body must appear in the body")
    func expectBodySubstring() async throws {
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 200, body: #"{"database": "up", "status": "healthy"}"#)
        } body: { server in
            let verdict = await HealthProber().verify(Self.check(server.url(), expectBody: #""status": "healthy""#, successes: 2))
            #expect(verdict.passed)
        }
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 200, body: #"{"database": "down", "status": "starting"}"#)
        } body: { server in
            let verdict = await HealthProber().verify(Self.check(server.url(), expectBody: "healthy", within: .seconds(2)))
            #expect(!verdict.passed)
            #expect(verdict.attempts > 1)
            #expect(verdict.detail.contains(#"body does not contain "healthy""#))
            #expect(verdict.detail.contains(#""status": "starting""#))
        }
    }

    @Test("a request slower than timeout counts as a failure, and the detail says no answer came in time")
    func perRequestTimeoutFails() async throws {
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 200, body: "ok", delay: .seconds(30))
        } body: { server in
            let verdict = await HealthProber().verify(Self.check(server.url(), timeout: .milliseconds(200), within: .seconds(2)))
            #expect(!verdict.passed)
            #expect(verdict.attempts > 1, "each request should give up after 200ms, leaving time for more")
            #expect(verdict.detail == "not healthy within 2s: no answer within 200ms")
        }
    }

    @Test("one slow answer breaks the streak but the probe recovers")
    func slowAnswerResetsStreak() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number == 2 ? .init(status: 200, body: "ok", delay: .seconds(60)) : .healthy
        } body: { server in
            let attempts = Collected<Attempt>()
            let verdict = await HealthProber().verify(Self.check(server.url(), timeout: .seconds(2), successes: 2, within: .seconds(30))) {
                number, failure in
                attempts.append(Attempt(number: number, failure: failure))
            }
            #expect(verdict.passed)
            #expect(verdict.attempts == 4)
            #expect(attempts.values.map(\.failure) == [nil, "no answer within 2s", nil, nil])
        }
    }

    @Test("a refused connection fails, and the detail says the connection was refused")
    func connectionRefused() async throws {
        try await LoopbackHTTPServer.withRefusingPort { port in
            let verdict = await HealthProber().verify(Self.check("http://127.0.0.1:\(port)/health/", within: .seconds(2)))
            #expect(!verdict.passed)
            #expect(verdict.detail == "not healthy within 2s: request failed: connection refused")
        }
    }

    @Test("the verdict comes at the within deadline, after repeated attempts")
    func overallDeadline() async throws {
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 502, body: "bad gateway")
        } body: { server in
            let clock = ContinuousClock()
            let start = clock.now
            let verdict = await HealthProber().verify(Self.check(server.url(), interval: .milliseconds(50), within: .seconds(2)))
            let elapsed = clock.now - start
            #expect(!verdict.passed)
            #expect(verdict.attempts > 1)
            #expect(server.requestCount > 1)
            #expect(elapsed >= .milliseconds(1900), "gave up before the 2s deadline (less one interval)")
            #expect(elapsed < .seconds(6), "kept probing long past the 2s deadline")
            #expect(verdict.elapsed.duration <= elapsed)
            #expect(verdict.detail == "not healthy within 2s: HTTP 502 (expected 200): bad gateway")
        }
    }

    @Test("the within deadline cuts short a request whose own timeout is longer")
    func deadlineCutsSlowRequest() async throws {
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 200, body: "ok", delay: .seconds(60))
        } body: { server in
            let clock = ContinuousClock()
            let start = clock.now
            let verdict = await HealthProber().verify(Self.check(server.url(), timeout: .seconds(20), within: .seconds(1)))
            let elapsed = clock.now - start
            #expect(!verdict.passed)
            #expect(elapsed < .seconds(10), "the probe waited for the 20s request timeout instead of the 1s deadline")
            #expect(verdict.detail.hasPrefix("not healthy within 1s: no answer within "))
            #expect(!verdict.detail.contains("20s"), "it did not wait 20s for an answer, so it must not say so")
        }
    }

    @Test("when the deadline cuts the last request short, the detail keeps the endpoint's real failure")
    func deadlineKeepsRealFailure() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number == 1 ? .init(status: 503, body: "warming up") : .init(status: 200, body: "ok", delay: .seconds(60))
        } body: { server in
            // The first answer is a quick 503; the second request gets only what is left of the 2s
            // deadline (its own timeout is 5s), and times out because of the deadline, not the endpoint.
            let verdict = await HealthProber().verify(Self.check(server.url(), timeout: .seconds(5), within: .seconds(2)))
            #expect(!verdict.passed)
            #expect(verdict.attempts == 2)
            #expect(verdict.detail == "not healthy within 2s: HTTP 503 (expected 200): warming up")
        }
    }
}
