import AsyncHTTPClient
import Foundation
import NIOCore
import ReleaseCore

/// The verdict of a health probe run.
public struct ProbeVerdict: Sendable, Equatable {
    /// Whether the required consecutive passes arrived before the deadline.
    public var passed: Bool
    /// How many requests were made.
    public var attempts: Int
    /// One sentence: what passed, or the last failure.
    public var detail: String
    /// How long the probe ran.
    public var elapsed: TimeSpan

    /// Creates a verdict.
    public init(passed: Bool, attempts: Int, detail: String, elapsed: TimeSpan) {
        self.passed = passed
        self.attempts = attempts
        self.detail = detail
        self.elapsed = elapsed
    }
}

/// Probes a health endpoint until it has answered well enough times in a row, or the deadline
/// passes.
public struct HealthProber: Sendable {
    private let client: HTTPClient?

    /// Creates a prober over `client`, by default the shared one. That one (and its event-loop
    /// threads) starts at the first probe, not when every command builds its engine.
    public init(client: HTTPClient? = nil) {
        self.client = client
    }

    /// Probes `check.url` until `check.successes` consecutive passes, or gives up after `check.within`.
    public func verify(_ check: HealthCheckConfiguration, onAttempt: @escaping @Sendable (Int, String?) -> Void = { _, _ in }) async -> ProbeVerdict {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: check.within.duration)
        var attempts = 0
        var streak = 0
        var lastFailure: String?
        while true {
            attempts += 1
            let remaining = deadline - clock.now
            let timeout = min(check.timeout.duration, max(remaining, .milliseconds(1)))
            let failure = await attempt(check, timeout: timeout)
            onAttempt(attempts, failure)
            if let failure {
                streak = 0
                // A last request that the deadline cut short and that timed out says nothing about
                // the endpoint; keep the failure before it (an HTTP 503, say), which does.
                let timedOutAtDeadline = timeout < check.timeout.duration && failure.hasPrefix(Self.noAnswer)
                if !timedOutAtDeadline || lastFailure == nil { lastFailure = failure }
            } else {
                streak += 1
                if streak >= check.successes {
                    return ProbeVerdict(
                        passed: true, attempts: attempts,
                        detail: "\(streak) consecutive healthy answers from \(check.url)",
                        elapsed: elapsed(since: start, clock))
                }
            }
            if clock.now.advanced(by: check.interval.duration) >= deadline {
                return ProbeVerdict(
                    passed: false, attempts: attempts,
                    detail: "not healthy within \(check.within): \(lastFailure ?? "no answer yet")",
                    elapsed: elapsed(since: start, clock))
            }
            try? await Task.sleep(for: check.interval.duration)
        }
    }

    private func elapsed(since start: ContinuousClock.Instant, _ clock: ContinuousClock) -> TimeSpan {
        TimeSpan(clock.now - start)
    }

    /// One request now, with the check's timeout; `nil` when it passed, else why not.
    public func probeOnce(_ check: HealthCheckConfiguration) async -> String? {
        await attempt(check, timeout: check.timeout.duration)
    }

    /// One request; `nil` when it passed, else why not.
    private func attempt(_ check: HealthCheckConfiguration, timeout: Duration) async -> String? {
        var request = HTTPClientRequest(url: check.url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: "release-health-probe")
        let milliseconds = max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        do {
            let response = try await (client ?? .release).execute(request, timeout: .milliseconds(milliseconds))
            let body = try await response.body.collect(upTo: 1 << 20)
            let text = String(buffer: body)
            if Int(response.status.code) != check.expectStatus {
                return "HTTP \(response.status.code) (expected \(check.expectStatus))\(Self.snippet(text))"
            }
            if let expected = check.expectBody, !text.contains(expected) {
                return "body does not contain \"\(expected)\"\(Self.snippet(text))"
            }
            return nil
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return Self.noAnswer + "\(TimeSpan.milliseconds(milliseconds))"
        } catch {
            return "request failed: \(Self.describe(error))"
        }
    }

    private static let noAnswer = "no answer within "

    private static func snippet(_ body: String) -> String {
        let line = body.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !line.isEmpty else { return "" }
        return ": " + (line.count > 120 ? String(line.prefix(120)) + "…" : line)
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("connectTimeout") { return "connection timed out" }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
