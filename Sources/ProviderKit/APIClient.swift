import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ReleaseCore

/// A JSON-over-HTTPS client for platform APIs: bounded retries with backoff and jitter, honouring
/// Retry-After, retrying only what is safe to retry, with secrets (`Secrets`) kept out of every error.
public struct APIClient: Sendable {
    /// How to reach and talk to one API.
    public struct Configuration: Sendable {
        /// The base URL, such as https://api.heroku.com (no trailing slash).
        public var baseURL: String
        /// Headers sent with every request (Authorization, Accept, …).
        public var headers: [(String, String)]
        /// Per-request timeout.
        public var timeout: TimeSpan
        /// Attempts in all, for a request that may be retried.
        public var maxAttempts: Int
        /// The first backoff; it doubles each time, with full jitter.
        public var initialBackoff: TimeSpan
        /// The longest wait between attempts, including a server's Retry-After.
        public var maxBackoff: TimeSpan
        /// The platform's name, for messages ("Heroku").
        public var platform: String
        /// Headers for one attempt, from its method, URL, headers and body.
        public typealias Authorizer =
            @Sendable (_ method: String, _ url: String, _ headers: [(String, String)], _ body: [UInt8]) -> [(String, String)]

        /// Computes headers for each attempt from the method, URL, headers and body about to be
        /// sent (AWS signs every attempt afresh); the result replaces the headers.
        public var authorize: Authorizer?
        /// Says whether an error answer means the server refused without acting (AWS throttling
        /// comes back as HTTP 400), so that any method may be retried; 429 always is.
        public var refusedWithoutActing: (@Sendable (Response) -> Bool)?

        /// Creates a configuration.
        public init(
            baseURL: String, headers: [(String, String)], platform: String,
            timeout: TimeSpan = .seconds(30), maxAttempts: Int = 5,
            initialBackoff: TimeSpan = .milliseconds(500), maxBackoff: TimeSpan = .seconds(30),
            authorize: Authorizer? = nil,
            refusedWithoutActing: (@Sendable (Response) -> Bool)? = nil
        ) {
            var base = baseURL
            while base.hasSuffix("/") { base.removeLast() }
            self.baseURL = base
            self.headers = headers
            self.platform = platform
            self.timeout = timeout
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.authorize = authorize
            self.refusedWithoutActing = refusedWithoutActing
        }
    }

    /// An answer.
    public struct Response: Sendable {
        /// The HTTP status.
        public var status: Int
        /// The headers, names lowercased.
        public var headers: [String: String]
        /// The body bytes.
        public var body: [UInt8]

        /// The body as JSON, if it is.
        public var json: JSONValue? { JSONValue(parsing: body) }
        /// The body as text.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// A request that ended with an HTTP error status (after any retries).
    public struct StatusError: Error, Sendable, CustomStringConvertible {
        /// The final status.
        public var status: Int
        /// The method and path, for messages.
        public var request: String
        /// The parsed body, when JSON.
        public var body: JSONValue?
        /// The raw body text, shortened and redacted.
        public var text: String
        /// The answer's headers, names lowercased.
        public var headers: [String: String] = [:]
        public var description: String { "\(request) answered HTTP \(status): \(text)" }

        /// Creates the error.
        public init(status: Int, request: String, body: JSONValue?, text: String, headers: [String: String] = [:]) {
            self.status = status
            self.request = request
            self.body = body
            self.text = text
            self.headers = headers
        }
    }

    /// The configuration.
    public let configuration: Configuration
    private let client: HTTPClient
    private let sleeper: @Sendable (Duration) async throws -> Void

    /// Creates a client over a shared HTTP client.
    public init(
        configuration: Configuration, client: HTTPClient = .release,
        sleeper: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.configuration = configuration
        self.client = client
        self.sleeper = sleeper
    }

    /// Sends a request and returns a 2xx answer; throws `StatusError` for other statuses and
    /// `ProviderError(.unreachable)` when the API cannot be reached.
    ///
    /// 429 is retried for every method (the server refused without acting); 5xx and connection
    /// failures only for idempotent methods, or when `retryable` says the request is safe to repeat.
    public func send(
        _ method: HTTPMethod, _ path: String, json: JSONValue? = nil, headers extra: [(String, String)] = [],
        retryable: Bool? = nil, label: String? = nil
    ) async throws -> Response {
        try await send(
            method, path, body: json.map { Array($0.text.utf8) }, contentType: json == nil ? nil : "application/json",
            headers: extra, retryable: retryable, label: label)
    }

    /// Sends raw bytes with their content type; otherwise as `send(_:_:json:headers:retryable:)`.
    /// `label` names the request in errors (default: method and path).
    public func send(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, contentType: String?, headers extra: [(String, String)] = [],
        retryable: Bool? = nil, label: String? = nil
    ) async throws -> Response {
        let idempotent = Self.isRepeatable(method, retryable: retryable)
        let label = label ?? "\(method.rawValue) \(path)"
        let url = configuration.baseURL + path
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = method
            var headers = configuration.headers
            for (name, value) in extra {
                headers.removeAll { $0.0.lowercased() == name.lowercased() }
                headers.append((name, value))
            }
            if let contentType { headers.append(("Content-Type", contentType)) }
            if let authorize = configuration.authorize { headers = authorize(method.rawValue, url, headers, body ?? []) }
            for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let response: Response
            do {
                let answer = try await client.execute(request, timeout: .milliseconds(max(1, configuration.timeout.microseconds / 1000)))
                let body = try await answer.body.collect(upTo: 16 << 20)
                var headers: [String: String] = [:]
                for header in answer.headers { headers[header.name.lowercased()] = header.value }
                response = Response(status: Int(answer.status.code), headers: headers, body: Array(buffer: body))
            } catch {
                let reason = HealthProber.describe(error)
                if idempotent, attempt < configuration.maxAttempts {
                    try await sleeper(backoff(attempt: attempt, retryAfter: nil))
                    continue
                }
                throw ProviderError(.unreachable, "\(configuration.platform) could not be reached (\(label): \(reason)).")
            }
            if (200..<300).contains(response.status) { return response }
            let refused = response.status == 429 || configuration.refusedWithoutActing?(response) == true
            let retry = refused || (idempotent && [500, 502, 503, 504].contains(response.status))
            if retry, attempt < configuration.maxAttempts {
                try await sleeper(
                    backoff(
                        attempt: attempt, retryAfter: response.headers["retry-after"],
                        rateLimitReset: refused ? response.headers["ratelimit-reset"] ?? response.headers["x-ratelimit-reset"] : nil))
                continue
            }
            var text = Secrets.redact(response.text)
            if text.count > 300 { text = String(text.prefix(300)) + "…" }
            throw StatusError(
                status: response.status, request: Secrets.redact(label), body: response.json, text: text,
                headers: response.headers)
        }
    }

    /// Whether a request is safe to send again: `retryable` when the caller says, else whether its
    /// method is idempotent.
    public static func isRepeatable(_ method: HTTPMethod, retryable: Bool?) -> Bool {
        retryable ?? [.GET, .HEAD, .PUT, .DELETE, .OPTIONS].contains(method)
    }

    /// How long to wait before attempt `attempt + 1`: the server's Retry-After when given (seconds
    /// or an HTTP date), else what a rate-limit reset header (`ratelimit-reset`, `x-ratelimit-reset`)
    /// says, else exponential backoff with full jitter; never above `maxBackoff`.
    ///
    /// A reset header is a Unix time on some platforms (DigitalOcean, GitHub) and the seconds until
    /// the reset on others (Datadog, the IETF draft): a value after 2001-09-09 (1e9) is the former.
    func backoff(attempt: Int, retryAfter: String?, rateLimitReset: String? = nil) -> Duration {
        let cap = configuration.maxBackoff.microseconds
        if retryAfter == nil, let reset = rateLimitReset.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
            let seconds = reset >= 1_000_000_000 ? reset - Date().timeIntervalSince1970 : reset
            return .microseconds(min(cap, max(0, Int64(seconds * 1_000_000))))
        }
        if let retryAfter {
            if let seconds = Int64(retryAfter.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
                return .microseconds(min(cap, seconds * 1_000_000))
            }
            if let date = Self.httpDate(retryAfter) {
                let wait = Int64(date.timeIntervalSinceNow * 1_000_000)
                return .microseconds(min(cap, max(0, wait)))
            }
        }
        let exponential = configuration.initialBackoff.microseconds << Int64(min(attempt - 1, 20))
        return .microseconds(Int64.random(in: 0...max(1, min(cap, exponential))))
    }

    private static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
