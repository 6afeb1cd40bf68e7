import AsyncHTTPClient
import ReleaseCore

/// The Sentry web API as the monitoring clients reach it (`monitors.sentry`: `<url>/api/0`), with
/// SENTRY_AUTH_TOKEN as a bearer token.
struct SentryAPI: Sendable {
    let token: APICredential
    let api: PlatformAPI
    let configuration: MonitorsConfiguration.Sentry

    init(_ configuration: MonitorsConfiguration.Sentry, environment: [String: String], retries: MonitorAPI, client: HTTPClient) {
        let token = APICredential(
            "SENTRY_AUTH_TOKEN", in: environment,
            advice: "SENTRY_AUTH_TOKEN with an auth token of \(configuration.org) that has the event:read, org:read and project:releases scopes")
        self.token = token
        self.configuration = configuration
        var base = configuration.url
        while base.hasSuffix("/") { base.removeLast() }
        api = retries.platform(
            "Sentry", baseURL: base + "/api/0", headers: [token.bearer], credential: token.name,
            rejectedAdvice: "Set \(token.name) to a valid auth token of \(configuration.org) on \(base).",
            forbiddenAdvice: { "Use a token with the \(Self.scope(of: $0)) scope in \(configuration.org)." },
            lookupKeys: "`monitors.sentry.org` and `monitors.sentry.project`", client: client)
    }

    /// The scope a request needs, as the API description lists it.
    static func scope(of request: String) -> String {
        if request.contains("/issues/") { return "event:read" }
        if request.contains("/events/") { return "org:read" }
        return "project:releases"
    }

    /// How many pages of 100 issues a count reads at most.
    static let pages = 10

    /// The cursor of the next page a `Link` header offers (`rel="next"; results="true"`), if any.
    static func nextCursor(_ link: String?) -> String? {
        for part in (link ?? "").split(separator: ",") where part.contains(#"rel="next""#) && part.contains(#"results="true""#) {
            guard let start = part.range(of: #"cursor=""#), let end = part[start.upperBound...].firstIndex(of: "\"") else { continue }
            return String(part[start.upperBound..<end])
        }
        return nil
    }

    /// `/organizations/<org>`.
    var organization: String { "/organizations/\(MonitorAPI.segment(configuration.org))" }

    /// A value in Sentry's search syntax, quoted when it must be.
    static func searchValue(_ text: String) -> String {
        guard text.isEmpty || text.contains(where: { " \t\"(),:".contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// Measures Sentry signals for one release (the name markers give it, `{{release_name}}`), over
/// the window, in `monitors.sentry.project`.
///
/// - `sentry: {new_issues: {level}}`: `GET /api/0/organizations/{org}/issues/` with
///   `query=firstRelease:<release> [level:<level>]`, `project`, `start`, `end` and `limit=100`,
///   following the `Link` header's next cursor: the number of issues first seen in the release
///   that occurred in the window (counted up to 1,000).
/// - `sentry: {errors: {query}}`: `GET /api/0/organizations/{org}/events/` with `dataset=errors`,
///   `field=count()`, `query=release:<release> [<query>]`, `project`, `start`, `end`: how many error
///   events the release had in the window.
public struct SentrySource: SignalSource {
    let sentry: SentryAPI

    /// Creates the source from `monitors.sentry` and the process environment (SENTRY_AUTH_TOKEN).
    public init(
        configuration: MonitorsConfiguration.Sentry, environment: [String: String], retries: MonitorAPI = .sources,
        client: HTTPClient = .release
    ) {
        sentry = SentryAPI(configuration, environment: environment, retries: retries, client: client)
    }

    public func preflight(for query: SignalQuery) throws {
        try sentry.token.preflight()
    }

    public func measure(_ query: SignalQuery, over window: SignalWindow) async throws -> SignalReading {
        try MonitorAPI.requireCredentials(sentry.token.preflight)
        let api = sentry.api
        let range = [
            ("project", sentry.configuration.project), ("start", window.start.rfc3339), ("end", window.end.rfc3339),
        ]
        switch query {
        case let .sentryNewIssues(level, release):
            let search = ["firstRelease:" + SentryAPI.searchValue(try Self.named(release))] + (level.map { ["level:\($0)"] } ?? [])
            let path = sentry.organization + "/issues/"
            var parameters = [("query", search.joined(separator: " "))] + range + [("limit", "100")]
            var count = 0
            for _ in 0..<SentryAPI.pages {
                let (answer, headers) = try await api.exchange(.GET, MonitorAPI.path(path, parameters), label: "GET \(path)")
                guard let issues = answer.arrayValue else { throw api.malformed("GET \(path)") }
                count += issues.count
                guard let next = SentryAPI.nextCursor(headers["link"]) else { break }
                parameters = parameters.filter { $0.0 != "cursor" } + [("cursor", next)]
            }
            return SignalReading(.number(Double(count)), query: "issues " + search.joined(separator: " "))
        case let .sentryErrors(extra, release):
            let search = ["release:" + SentryAPI.searchValue(try Self.named(release))] + (extra.map { [$0] } ?? [])
            let path = sentry.organization + "/events/"
            let parameters = [("dataset", "errors"), ("field", "count()"), ("query", search.joined(separator: " "))] + range
            let answer = try await api.call(.GET, MonitorAPI.path(path, parameters), label: "GET \(path)")
            guard let rows = answer["data"]?.arrayValue else { throw api.malformed("GET \(path)") }
            let count = rows.first?["count()"]?.doubleValue
            return SignalReading(count.map(SignalReading.Answer.number) ?? .noData, query: "errors " + search.joined(separator: " "))
        default:
            throw ProviderError(.configuration, "Sentry cannot measure a \(query.monitor.rawValue) signal.")
        }
    }

    /// The release a rendered query names.
    private static func named(_ release: String?) throws -> String {
        guard let release, !release.isEmpty else {
            throw ProviderError(.configuration, "A Sentry signal was measured without the release it concerns (render the query first).")
        }
        return release
    }
}

/// Marks releases and deploys in Sentry (`markers.sentry`): at `release create` a release named
/// `releaseName` in the project (`POST /api/0/organizations/{org}/releases/`, with the commit as
/// `ref`); at every cutover the same release, in case it is missing (201 and 208 are both fine),
/// then a deploy to the environment (`POST …/releases/{version}/deploys/`).
public struct SentryMarker: DeployMarker {
    let sentry: SentryAPI

    /// Creates the marker from `monitors.sentry` and the process environment (SENTRY_AUTH_TOKEN).
    public init(
        configuration: MonitorsConfiguration.Sentry, environment: [String: String], retries: MonitorAPI = .markers,
        client: HTTPClient = .release
    ) {
        sentry = SentryAPI(configuration, environment: environment, retries: retries, client: client)
    }

    public var service: String { "Sentry" }

    /// A release on `create`; a deploy at every cutover, a rollback's too (Sentry then knows which
    /// release serves the environment).
    public func marks(_ kind: DeployMark.Kind) -> Bool {
        kind != .verificationFailed
    }

    public func mark(_ mark: DeployMark) async throws {
        guard marks(mark.kind) else { return }
        try MonitorAPI.requireCredentials(sentry.token.preflight)
        let project = sentry.configuration.project
        let release: JSONValue = .object(
            [("version", .string(mark.releaseName)), ("projects", .array([.string(project)]))]
                + (mark.commit.map { [("ref", .string($0))] } ?? []))
        // Creating a release that exists answers 208 and changes nothing, so it may be repeated.
        _ = try await sentry.api.call(.POST, sentry.organization + "/releases/", json: release, retryable: true)
        guard mark.kind != .created else { return }
        let deploy: JSONValue = .object([
            ("environment", .string(String((mark.environment ?? "production").prefix(64)))),
            ("name", .string(String("\(mark.service) \(mark.version)".prefix(64)))),
            ("dateFinished", .string(mark.at.rfc3339)), ("projects", .array([.string(project)])),
        ])
        _ = try await sentry.api.call(
            .POST, "\(sentry.organization)/releases/\(MonitorAPI.segment(mark.releaseName))/deploys/", json: deploy)
    }
}
