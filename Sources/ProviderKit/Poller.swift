import ReleaseCore

/// Waits for an operation on a platform to settle, the one way every provider waits: it looks every
/// `interval` until `timeout` has passed, prints a progress line only when what it sees changes,
/// and looks again after a malformed answer, up to the deadline.
public struct Poller: Sendable {
    /// How long to wait between looks.
    public var interval: TimeSpan
    /// How long the whole wait may take.
    public var timeout: TimeSpan
    /// Where progress lines go.
    public var progress: @Sendable (String) -> Void

    /// Creates a poller.
    public init(interval: TimeSpan, timeout: TimeSpan, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.interval = interval
        self.timeout = timeout
        self.progress = progress
    }

    /// Looks at the operation until `finished` makes a value of what a look saw, and returns it.
    ///
    /// - `look` fetches the operation; a `MalformedAnswer` it throws counts as a look that saw
    ///   nothing, and the next look follows at the usual cadence.
    /// - `report` is the progress line for what a look saw (nil: none); it goes out when it
    ///   differs from the last line that went out.
    /// - `finished` returns nil while the operation runs; it throws when the operation failed.
    /// - `expired` says how the wait ends at the deadline, from the last thing seen (nil when every
    ///   answer was malformed); a wait whose last answer was malformed ends `.unreachable`.
    public func wait<Seen, Value>(
        look: () async throws -> Seen,
        report: (Seen) -> String? = { _ in nil },
        until finished: (Seen) async throws -> Value?,
        expired: (Seen?) throws -> Value
    ) async throws -> Value {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout.duration)
        var seen: Seen?
        var reported: String?
        while true {
            var malformed: MalformedAnswer?
            do {
                let value = try await MalformedAnswer.$pollerLooksAgain.withValue(true) { () async throws -> Value? in
                    let now = try await look()
                    seen = now
                    if let line = report(now), line != reported {
                        progress(line)
                        reported = line
                    }
                    return try await finished(now)
                }
                if let value { return value }
            } catch let answer as MalformedAnswer {
                malformed = answer
            }
            if clock.now >= deadline {
                if let malformed {
                    throw ProviderError(.unreachable, "\(malformed) It still did when the wait ended, after \(timeout).")
                }
                return try expired(seen)
            }
            try await Task.sleep(for: interval.duration)
        }
    }

    /// The error a wait ends with at its deadline: "<subject> did not finish within <timeout>",
    /// with the last state seen when there is one ("last status BUILDING").
    public func notFinished(_ subject: String, last: String? = nil) -> ProviderError {
        ProviderError(.failed, "\(subject) did not finish within \(timeout)\(last.map { " (last \($0))" } ?? "").")
    }
}
