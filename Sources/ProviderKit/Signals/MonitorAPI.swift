import AsyncHTTPClient
import Foundation
import ReleaseCore

/// What the monitoring clients share: how often they try, how their requests carry parameters,
/// and how the services' error bodies read.
public struct MonitorAPI: Sendable {
    /// Attempts in all for one request (429, and 5xx for reads, are retried).
    public var maxAttempts: Int
    /// The first backoff; it doubles each time, with full jitter.
    public var initialBackoff: TimeSpan
    /// The longest wait between attempts, including a server's Retry-After.
    public var maxBackoff: TimeSpan
    /// Per-request timeout.
    public var timeout: TimeSpan

    /// Creates retry settings.
    public init(maxAttempts: Int, initialBackoff: TimeSpan, maxBackoff: TimeSpan, timeout: TimeSpan = .seconds(30)) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.timeout = timeout
    }

    /// Signal sources: `APIClient`'s defaults. A source that still fails is a measurement error
    /// (inconclusive), never a pass or a failure.
    public static let sources = MonitorAPI(maxAttempts: 5, initialBackoff: .milliseconds(500), maxBackoff: .seconds(30))
    /// Deploy markers: one attempt each, within 10 seconds; the engine tries a mark three times
    /// (`Engine.mark`), since a marker never holds up an operation for long.
    public static let markers = MonitorAPI(maxAttempts: 1, initialBackoff: .milliseconds(500), maxBackoff: .seconds(5), timeout: .seconds(10))

    /// A `PlatformAPI` for `platform` at `baseURL` with these retry settings; error bodies are read
    /// by `errorAnswer(_:)`.
    func platform(
        _ platform: String, baseURL: String, headers: [(String, String)], credential: String, rejectedAdvice: String,
        forbiddenAdvice: @escaping @Sendable (_ request: String) -> String, lookupKeys: String, client: HTTPClient
    ) -> PlatformAPI {
        PlatformAPI(
            .init(
                baseURL: baseURL, headers: headers + [("Accept", "application/json")], platform: platform, timeout: timeout,
                maxAttempts: maxAttempts, initialBackoff: initialBackoff, maxBackoff: maxBackoff),
            errors: APIErrors(
                credential: credential, rejectedAdvice: rejectedAdvice, forbiddenAdvice: forbiddenAdvice, lookupKeys: lookupKeys,
                read: Self.errorAnswer),
            client: client)
    }

    /// Runs a credential's preflight when a measurement or a mark is about to be sent: a missing
    /// credential is then the `ProviderError(.configuration)` the protocols promise, with the same
    /// message, and nothing is sent with an empty key.
    static func requireCredentials(_ preflight: () throws -> Void) throws {
        do {
            try preflight()
        } catch let error as ReleaseError {
            throw ProviderError(.configuration, error.message)
        }
    }

    /// An error answer of a monitoring service, in its status's row: Prometheus's
    /// `{"errorType", "error"}`, Datadog's `{"errors": [...]}`, Sentry's `{"detail"}`, else the text.
    static func errorAnswer(_ error: APIClient.StatusError) -> ErrorAnswer {
        let body = error.body
        let says: String =
            if let message = body?["error"]?.stringValue {
                (body?["errorType"]?.stringValue.map { "\($0): " } ?? "") + message
            } else if let messages = body?["errors"]?.arrayValue?.compactMap(\.stringValue), !messages.isEmpty {
                messages.joined(separator: "; ")
            } else {
                body?["detail"]?.stringValue ?? body?["message"]?.stringValue ?? error.text
            }
        return ErrorAnswer(row: .init(status: error.status), request: error.request, status: error.status, says: Secrets.redact(says))
    }

    /// `path` with `parameters` as its query string, every value percent-encoded.
    static func path(_ path: String, _ parameters: [(String, String)]) -> String {
        guard !parameters.isEmpty else { return path }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        return path + "?" + parameters.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }

    /// One path segment (a Sentry release name may hold `/`), percent-encoded.
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Unix seconds, to the millisecond (Prometheus's `time`).
    static func unixSeconds(_ instant: Timestamp) -> String {
        let millis = instant.microseconds / 1000
        let (seconds, rest) = (millis / 1000, millis % 1000)
        return rest == 0 ? "\(seconds)" : "\(seconds)." + String(String(rest + 1000).dropFirst())
    }
}
