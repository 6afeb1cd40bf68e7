import AsyncHTTPClient
import ReleaseCore

/// The Datadog API as the monitoring clients reach it (`monitors.datadog`: `https://api.<site>`,
/// or `api_url`): DD_API_KEY goes with every request, DD_APP_KEY with reads.
struct DatadogAPI: Sendable {
    static let apiKeyAdvice = "DD_API_KEY with an API key of your Datadog organization"
    static let appKeyAdvice = "DD_APP_KEY with an application key allowed timeseries_query and monitors_read"

    let apiKey: APICredential
    let appKey: APICredential?
    let api: PlatformAPI

    /// `withAppKey`: reads (queries, monitors) send DD_APP_KEY too; events need only DD_API_KEY.
    init(_ configuration: MonitorsConfiguration.Datadog, environment: [String: String], withAppKey: Bool, retries: MonitorAPI, client: HTTPClient) {
        let apiKey = APICredential("DD_API_KEY", in: environment, advice: Self.apiKeyAdvice)
        let appKey = withAppKey ? APICredential("DD_APP_KEY", in: environment, advice: Self.appKeyAdvice) : nil
        self.apiKey = apiKey
        self.appKey = appKey
        let site = "the site \(configuration.site)"
        api = retries.platform(
            "Datadog", baseURL: configuration.baseURL,
            headers: [("DD-API-KEY", apiKey.token ?? "")] + (appKey.map { [("DD-APPLICATION-KEY", $0.token ?? "")] } ?? []),
            credential: appKey == nil ? "DD_API_KEY" : "DD_API_KEY and DD_APP_KEY",
            rejectedAdvice: appKey == nil
                ? "Set DD_API_KEY to a valid API key of the organization on \(site)."
                : "Set DD_API_KEY to a valid API key and DD_APP_KEY to a valid application key of the organization on \(site).",
            forbiddenAdvice: { request in
                guard appKey != nil else { return "Set DD_API_KEY to a valid API key of the organization on \(site)." }
                let permission = request.contains("/monitor/") ? "monitors_read" : "timeseries_query"
                return "Check that DD_API_KEY is valid on \(site) and that DD_APP_KEY belongs to a user or service account "
                    + "with the \(permission) permission (and, when the key is scoped, the \(permission) scope)."
            },
            lookupKeys: "`monitors.datadog` and the signal's `datadog.monitor`", client: client)
    }

    /// A usage error when a key the requests need is not set.
    func preflight() throws {
        try appKey?.preflight()
        try apiKey.preflight()
    }
}

/// Measures Datadog signals.
///
/// - `datadog: {query}`: `GET /api/v1/query?from=…&to=…&query=…` over the window, in Unix seconds
///   (`from` rounded up, so it never reaches before the window). Each series' value is its last
///   non-null point; with several series the largest is the answer (the worst, for thresholds that
///   fail above). No series, or no non-null point, is no data.
/// - `datadog: {monitor}`: `GET /api/v1/monitor/{id}`: its `overall_state` OK passes, Alert fails,
///   anything else (Warn, No Data, Unknown, Ignored, Skipped) is inconclusive.
public struct DatadogSource: SignalSource {
    let datadog: DatadogAPI

    /// Creates the source from `monitors.datadog` and the process environment (DD_API_KEY, DD_APP_KEY).
    public init(
        configuration: MonitorsConfiguration.Datadog, environment: [String: String], retries: MonitorAPI = .sources,
        client: HTTPClient = .release
    ) {
        datadog = DatadogAPI(configuration, environment: environment, withAppKey: true, retries: retries, client: client)
    }

    public func preflight(for query: SignalQuery) throws {
        try datadog.preflight()
    }

    public func measure(_ query: SignalQuery, over window: SignalWindow) async throws -> SignalReading {
        let api = datadog.api
        try MonitorAPI.requireCredentials(datadog.preflight)
        switch query {
        case let .datadogQuery(text):
            let from = (window.start.microseconds + 999_999) / 1_000_000
            let to = max(from, window.end.microseconds / 1_000_000)
            let path = MonitorAPI.path("/api/v1/query", [("from", "\(from)"), ("to", "\(to)"), ("query", text)])
            let answer = try await api.call(.GET, path, label: "GET /api/v1/query")
            if answer["status"]?.stringValue == "error" {
                throw ProviderError(.configuration, "Datadog refused the query \(text) (\(answer["error"]?.stringValue ?? "error")).")
            }
            guard let series = answer["series"]?.arrayValue else { throw api.malformed("GET /api/v1/query") }
            let values = series.compactMap { item in
                item["pointlist"]?.arrayValue?.lazy.compactMap { $0.arrayValue?.last?.doubleValue }.last
            }
            return SignalReading(values.max().map(SignalReading.Answer.number) ?? .noData, query: text)
        case let .datadogMonitor(id):
            let path = "/api/v1/monitor/\(id)"
            let answer = try await api.call(.GET, path)
            guard let state = answer["overall_state"]?.stringValue else { throw api.malformed("GET \(path)") }
            let outcome: SignalOutcome =
                switch state {
                case "OK": .pass
                case "Alert": .fail
                default: .inconclusive
                }
            return SignalReading(.state(outcome, state), query: "monitor \(id)")
        default:
            throw ProviderError(.configuration, "Datadog cannot measure a \(query.monitor.rawValue) signal.")
        }
    }
}

/// Posts an event to Datadog's event stream at every cutover, rollback and failed verification
/// (`markers.datadog.events`): `POST /api/v1/events` with DD_API_KEY, tagged `service:`, `env:`,
/// `version:` and `release:`, so that dashboards can overlay deploys.
public struct DatadogMarker: DeployMarker {
    let datadog: DatadogAPI

    /// Creates the marker from `monitors.datadog` (the site; default datadoghq.com) and the process
    /// environment (DD_API_KEY).
    public init(
        configuration: MonitorsConfiguration.Datadog, environment: [String: String], retries: MonitorAPI = .markers,
        client: HTTPClient = .release
    ) {
        datadog = DatadogAPI(configuration, environment: environment, withAppKey: false, retries: retries, client: client)
    }

    public var service: String { "Datadog" }

    public func marks(_ kind: DeployMark.Kind) -> Bool {
        kind != .created
    }

    public func mark(_ mark: DeployMark) async throws {
        guard marks(mark.kind) else { return }
        try MonitorAPI.requireCredentials(datadog.preflight)
        let environment = mark.environment ?? "unknown"
        let (title, alert): (String, String) =
            switch mark.kind {
            case .created, .cutover: ("\(mark.service) \(mark.version) live on \(environment)", "info")
            case .rollback: ("\(mark.service) rolled back to \(mark.version) on \(environment)", "warning")
            case .verificationFailed: ("\(mark.service) \(mark.version) failed verification on \(environment)", "error")
            }
        let tags = ["service:\(mark.service)", "env:\(environment)", "version:\(mark.version)", "release:\(mark.releaseName)"]
        let event: JSONValue = .object([
            ("title", .string(title)), ("text", .string(mark.message)), ("tags", .array(tags.map(JSONValue.string))),
            ("alert_type", .string(alert)), ("date_happened", .int(mark.at.microseconds / 1_000_000)),
            ("aggregation_key", .string(String("\(mark.service)-\(environment)".prefix(100)))),
        ])
        _ = try await datadog.api.call(.POST, "/api/v1/events", json: event)
    }
}
