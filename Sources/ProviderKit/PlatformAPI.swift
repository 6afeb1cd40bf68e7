import AsyncHTTPClient
import NIOHTTP1
import ReleaseCore

/// A platform's JSON API as a provider calls it: requests go through `APIClient` (bounded retries,
/// secrets kept out), error answers through the one table (`APIErrors`), and one rule covers a
/// success whose body is not JSON (`malformed(_:repeatable:)`).
public struct PlatformAPI: Sendable {
    /// The client, which names the platform in its messages.
    public let client: APIClient
    /// How the platform's error answers read and become `ProviderError`s.
    public let errors: APIErrors

    /// A client for `configuration`, which gets `release`'s User-Agent.
    public init(_ configuration: APIClient.Configuration, errors: APIErrors, client: HTTPClient = .release) {
        var configuration = configuration
        configuration.headers.append(("User-Agent", ReleaseInfo.userAgent))
        self.client = APIClient(configuration: configuration, client: client)
        self.errors = errors
    }

    /// The platform's name, for messages ("Heroku").
    public var platform: String { client.configuration.platform }

    /// Sends a request and returns its JSON answer (`{}` for an empty one). `label` names the
    /// request in messages (default: method and path); `retryable` as `APIClient.send`.
    public func call(
        _ method: HTTPMethod, _ path: String, json: JSONValue? = nil, contentType: String = "application/json",
        headers: [(String, String)] = [], retryable: Bool? = nil, label: String? = nil
    ) async throws -> JSONValue {
        try await exchange(method, path, json: json, contentType: contentType, headers: headers, retryable: retryable, label: label).json
    }

    /// As `call`, with the answer's headers too (names lowercased), for an API that pages with
    /// a `Link` header.
    public func exchange(
        _ method: HTTPMethod, _ path: String, json: JSONValue? = nil, contentType: String = "application/json",
        headers: [(String, String)] = [], retryable: Bool? = nil, label: String? = nil
    ) async throws -> (json: JSONValue, headers: [String: String]) {
        let label = label ?? "\(method.rawValue) \(path)"
        let response: APIClient.Response
        do {
            response = try await client.send(
                method, path, body: json.map { Array($0.text.utf8) }, contentType: json == nil ? nil : contentType,
                headers: headers, retryable: retryable, label: label)
        } catch let error as APIClient.StatusError {
            throw errors.error(errors.read(error), platform: platform)
        }
        if response.body.isEmpty { return (.object([]), response.headers) }
        guard let body = response.json else {
            throw malformed(label, repeatable: APIClient.isRepeatable(method, retryable: retryable))
        }
        return (body, response.headers)
    }

    /// The error for an answer to `request` that is not what the API describes. A request that may
    /// have acted is `.unreachable` with advice to look before retrying; one safe to repeat is
    /// `MalformedAnswer` inside a `Poller`'s wait, which looks again, and `.unreachable` elsewhere.
    public func malformed(_ request: String, repeatable: Bool = true) -> any Error {
        let answer = MalformedAnswer(platform: platform, request: request)
        guard repeatable else {
            return ProviderError(.unreachable, "\(answer) It may have acted, so check on \(platform) before retrying.")
        }
        return MalformedAnswer.pollerLooksAgain ? answer : ProviderError(.unreachable, answer.description)
    }
}

/// A 2xx answer whose body is not what the platform's API describes, to a request a `Poller` is
/// waiting on: it looks again (`PlatformAPI.malformed(_:repeatable:)` says when it is thrown).
public struct MalformedAnswer: Error, CustomStringConvertible, Sendable {
    /// Whether the current task is inside a `Poller`'s look, which looks again after a malformed answer.
    @TaskLocal public static var pollerLooksAgain = false

    /// The platform, as messages name it.
    public var platform: String
    /// The request the answer was to ("GET /apps/crm/builds/1", "query Follow").
    public var request: String

    /// Creates the error.
    public init(platform: String, request: String) {
        self.platform = platform
        self.request = request
    }

    public var description: String { "\(platform) answered \(request) with malformed JSON." }
}

/// The one table that turns a platform's error answers into `ProviderError`s, with what differs per
/// platform: how its error bodies read, what its credential is called and how to fix it.
///
/// | answer | kind | message |
/// |---|---|---|
/// | 401, credentials rejected | configuration | "Heroku rejected HEROKU_API_KEY (HTTP 401, …). Set …" |
/// | 403, not allowed | configuration | "Heroku refused HEROKU_API_KEY for POST /apps/… (HTTP 403, …). Use …" |
/// | 404, not found | configuration | "Heroku does not know GET /apps/… (HTTP 404, …). Check `heroku.app` in release.yml." |
/// | 429, 5xx, throttled | unreachable | "Heroku kept failing POST /apps/… (HTTP 503, …)." |
/// | 409, 422, any other | failed | "Heroku refused POST /apps/… (HTTP 422, …)." |
public struct APIErrors: Sendable {
    /// The credential, as messages name it ("HEROKU_API_KEY", "the AWS credentials").
    public var credential: String
    /// How to fix a credential the platform rejected ("Set HEROKU_API_KEY to a valid token.").
    public var rejectedAdvice: String
    /// How to let the credential do the refused request ("Use a token with write scope.").
    public var forbiddenAdvice: @Sendable (_ request: String) -> String
    /// The keys of release.yml that name what the platform does not know ("`heroku.app`").
    public var lookupKeys: String
    /// What an error answer says and which row it falls in.
    public var read: @Sendable (APIClient.StatusError) -> ErrorAnswer

    /// Creates a table; `read` defaults to `{"id", "message"}` bodies and the status's row.
    public init(
        credential: String, rejectedAdvice: String, forbiddenAdvice: @escaping @Sendable (_ request: String) -> String,
        lookupKeys: String, read: @escaping @Sendable (APIClient.StatusError) -> ErrorAnswer = ErrorAnswer.init(idAndMessage:)
    ) {
        self.credential = credential
        self.rejectedAdvice = rejectedAdvice
        self.forbiddenAdvice = forbiddenAdvice
        self.lookupKeys = lookupKeys
        self.read = read
    }

    /// The table of an API that takes `token`: messages name its variable, and the advice for a
    /// rejected token is to set it to a valid one (`hint` adds how to get one, or what it must reach).
    public init(
        token: APICredential, hint: String = "", forbiddenAdvice: @escaping @Sendable (_ request: String) -> String,
        lookupKeys: String, read: @escaping @Sendable (APIClient.StatusError) -> ErrorAnswer = ErrorAnswer.init(idAndMessage:)
    ) {
        self.init(
            credential: token.name, rejectedAdvice: "Set \(token.name) to a valid token\(hint).", forbiddenAdvice: forbiddenAdvice,
            lookupKeys: lookupKeys, read: read)
    }

    /// The error for an answer from `platform`.
    public func error(_ answer: ErrorAnswer, platform: String) -> ProviderError {
        let detail = answer.detail
        return switch answer.row {
        case .rejected:
            ProviderError(.configuration, "\(platform) rejected \(credential) (\(detail)). \(rejectedAdvice)")
        case .forbidden:
            ProviderError(
                .configuration,
                "\(platform) refused \(credential) for \(answer.request) (\(detail)). \(forbiddenAdvice(answer.request))")
        case .notFound:
            ProviderError(.configuration, "\(platform) does not know \(answer.request) (\(detail)). Check \(lookupKeys) in release.yml.")
        case .busy:
            ProviderError(.unreachable, "\(platform) kept failing \(answer.request) (\(detail)).")
        case .refused:
            ProviderError(.failed, "\(platform) refused \(answer.request) (\(detail)).")
        }
    }
}

/// An error answer as `APIErrors` reads it.
public struct ErrorAnswer: Sendable, Equatable {
    /// The rows of the table.
    public enum Row: Sendable, Equatable {
        /// The credentials are not valid (401).
        case rejected
        /// The credentials may not do this (403).
        case forbidden
        /// What the request names does not exist (404).
        case notFound
        /// The platform is busy or failing (429, 5xx): it may work later.
        case busy
        /// The platform refused the request (409, 422, any other).
        case refused

        /// The row an HTTP status falls in.
        public init(status: Int) {
            self =
                switch status {
                case 401: .rejected
                case 403: .forbidden
                case 404: .notFound
                case 429, 500...599: .busy
                default: .refused
                }
        }
    }

    /// Where it falls in the table.
    public var row: Row
    /// The request it answered, as messages name it.
    public var request: String
    /// The HTTP status, when it says anything (GraphQL errors arrive with 200).
    public var status: Int?
    /// What the platform said: its error id or code and message ("not_found: Couldn't find that app.").
    public var says: String

    /// Creates an answer.
    public init(row: Row, request: String, status: Int?, says: String) {
        self.row = row
        self.request = request
        self.status = status
        self.says = says
    }

    /// An answer whose body is `{"id": …, "message": …}` (Heroku, DigitalOcean), in its status's row.
    public init(idAndMessage error: APIClient.StatusError) {
        let id = error.body?["id"]?.stringValue
        let message = error.body?["message"]?.stringValue ?? error.text
        self.init(
            row: Row(status: error.status), request: error.request, status: error.status,
            says: "\(id.map { "\($0): " } ?? "")\(message)")
    }

    /// The status and what the platform said, for a message's parentheses: "HTTP 401, unauthorized: …".
    public var detail: String { status.map { "HTTP \($0), \(says)" } ?? says }
}
