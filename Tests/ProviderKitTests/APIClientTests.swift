import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The API client every provider shares: what it retries, how long it waits, what it shows.
@Suite struct APIClientTests {
    /// Records the waits instead of sleeping, so the tests are quick and the waits exact.
    final class Waits: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Duration] = []
        var values: [Duration] {
            lock.lock()
            defer { lock.unlock() }
            return items
        }
        func append(_ value: Duration) {
            lock.lock()
            items.append(value)
            lock.unlock()
        }
    }

    private static func client(_ server: LoopbackHTTPServer, waits: Waits, secret: String = "s3cr3t-token", attempts: Int = 4) -> APIClient {
        Secrets.register(secret)
        return APIClient(
            configuration: .init(
                baseURL: "http://127.0.0.1:\(server.port)/", headers: [("Authorization", "Bearer \(secret)")],
                platform: "Example", timeout: .seconds(5),
                maxAttempts: attempts, initialBackoff: .milliseconds(100), maxBackoff: .seconds(30)),
            sleeper: { waits.append($0) })
    }

    @Test func a429IsRetriedEvenForAPostAfterItsRetryAfter() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number == 1
                ? .init(status: 429, body: "{\"id\":\"rate_limit\"}", headers: [("Retry-After", "7")]) : .init(status: 201, body: "{\"id\":\"b1\"}")
        } body: { server in
            let waits = Waits()
            let response = try await Self.client(server, waits: waits).send(.POST, "/builds", json: .object([]))
            #expect(response.status == 201)
            #expect(response.json?["id"]?.stringValue == "b1")
            #expect(waits.values == [.seconds(7)])
            #expect(server.requestCount == 2)
        }
    }

    @Test func aServerErrorIsRetriedForAGetButNeverForAPost() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number <= 2 ? .init(status: 503, body: "busy") : .init(status: 200, body: "{}")
        } body: { server in
            let waits = Waits()
            let response = try await Self.client(server, waits: waits).send(.GET, "/builds/1")
            #expect(response.status == 200)
            #expect(waits.values.count == 2)
            #expect(waits.values.allSatisfy { $0 <= .milliseconds(200) }, "jittered backoff within the exponential bound")
        }
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 500, body: "{\"id\":\"boom\",\"message\":\"s3cr3t-token broke\"}")
        } body: { server in
            let waits = Waits()
            await #expect {
                _ = try await Self.client(server, waits: waits).send(.POST, "/builds", json: .object([]))
            } throws: { error in
                guard let status = error as? APIClient.StatusError else { return false }
                return status.status == 500 && !status.description.contains("s3cr3t-token") && status.description.contains("***")
            }
            #expect(server.requestCount == 1, "a POST that may have acted is sent once")
        }
    }

    @Test func retriesAreBoundedAndWaitsCapped() async throws {
        try await LoopbackHTTPServer.withServer { _ in
            .init(status: 429, body: "slow down", headers: [("Retry-After", "3600")])
        } body: { server in
            let waits = Waits()
            await #expect(throws: APIClient.StatusError.self) {
                _ = try await Self.client(server, waits: waits, attempts: 3).send(.GET, "/x")
            }
            #expect(server.requestCount == 3)
            #expect(waits.values == [.seconds(30), .seconds(30)], "a server's Retry-After is honoured up to the cap")
        }
    }

    @Test func aRateLimitResetHeaderIsUsedWhenThereIsNoRetryAfter() async throws {
        let reset = String(Int(Date().timeIntervalSince1970) + 20)
        try await LoopbackHTTPServer.withServer { request in
            request.number == 1 ? .init(status: 429, body: "{}", headers: [("ratelimit-reset", reset)]) : .init(status: 200, body: "{}")
        } body: { server in
            let waits = Waits()
            _ = try await Self.client(server, waits: waits).send(.GET, "/x")
            let wait = try #require(waits.values.first)
            // Without the header the wait would be jittered backoff under 100ms.
            #expect(wait > .seconds(10) && wait <= .seconds(20))
        }
    }

    @Test func datadogsXRateLimitResetIsSecondsUntilTheResetNotATime() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number == 1
                ? .init(status: 429, body: "{\"errors\":[\"Rate limit exceeded\"]}", headers: [("X-RateLimit-Reset", "12")])
                : .init(status: 200, body: "{}")
        } body: { server in
            let waits = Waits()
            _ = try await Self.client(server, waits: waits).send(.GET, "/api/v1/query")
            #expect(waits.values == [.seconds(12)], "12 means in 12 seconds, not 12 seconds after 1970")
        }
    }

    @Test func anUnreachableAPIIsReportedWithoutTheSecret() async throws {
        let waits = Waits()
        Secrets.register("s3cr3t-token")
        let client = APIClient(
            configuration: .init(
                baseURL: "http://127.0.0.1:9", headers: [], platform: "Example",
                timeout: .seconds(2), maxAttempts: 2),
            sleeper: { waits.append($0) })
        await #expect {
            _ = try await client.send(.GET, "/x?token=s3cr3t-token")
        } throws: { error in
            (error as? ProviderError)?.kind == .unreachable && "\(error)".contains("Example could not be reached")
                && !"\(error)".contains("s3cr3t-token")
        }
        #expect(waits.values.count == 1, "a GET is tried again once before giving up (2 attempts)")
    }
}
