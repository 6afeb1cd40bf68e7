import AsyncHTTPClient
import ReleaseCore

/// Measures Prometheus signals over its HTTP API (`<url>/api/v1`), with a bearer token from the
/// variable `token_env` names, when it names one.
///
/// - `prometheus: {query}`: `GET /api/v1/query?query=…&time=<window end>`, an instant query. With
///   several series the largest value is the answer (the worst, for thresholds that fail above; a
///   query that must fail *below* a value should aggregate to one series, such as `min(…)`). No
///   series, or NaN, is no data; a scalar result is its value.
/// - `prometheus: {alert}`: `GET /api/v1/alerts`: any instance of the alert firing fails, pending
///   is inconclusive, none (or only inactive ones) passes.
public struct PrometheusSource: SignalSource {
    let api: PlatformAPI
    /// The bearer token, when `token_env` names a variable.
    public let token: APICredential?

    /// Creates the source from `monitors.prometheus` and the process environment.
    public init(
        configuration: MonitorsConfiguration.Prometheus, environment: [String: String], retries: MonitorAPI = .sources,
        client: HTTPClient = .release
    ) {
        let token = configuration.tokenVariable.map {
            APICredential($0, in: environment, advice: "\($0) with a token Prometheus accepts (monitors.prometheus.token_env)")
        }
        self.token = token
        let variable = configuration.tokenVariable
        api = retries.platform(
            "Prometheus", baseURL: configuration.url, headers: token.map { [$0.bearer] } ?? [],
            credential: variable ?? "a request without a token",
            rejectedAdvice: variable.map { "Set \($0) to a token the server accepts." }
                ?? "Set `monitors.prometheus.token_env` to a variable holding a bearer token the server accepts.",
            forbiddenAdvice: { _ in "Use a token allowed to read /api/v1/query and /api/v1/alerts." },
            lookupKeys: "`monitors.prometheus.url`", client: client)
    }

    public func preflight(for query: SignalQuery) throws {
        try token?.preflight()
    }

    public func measure(_ query: SignalQuery, over window: SignalWindow) async throws -> SignalReading {
        try MonitorAPI.requireCredentials { try preflight(for: query) }
        switch query {
        case let .prometheusQuery(text):
            let path = MonitorAPI.path("/api/v1/query", [("query", text), ("time", MonitorAPI.unixSeconds(window.end))])
            let answer = try await api.call(.GET, path, label: "GET /api/v1/query")
            return SignalReading(try Self.value(of: answer, api: api), query: text)
        case let .prometheusAlert(name):
            let answer = try await api.call(.GET, "/api/v1/alerts")
            guard let alerts = answer["data"]?["alerts"]?.arrayValue else { throw api.malformed("GET /api/v1/alerts") }
            let states = Set(alerts.filter { $0["labels"]?["alertname"]?.stringValue == name }.compactMap { $0["state"]?.stringValue })
            let answerState: SignalReading.Answer =
                if states.contains("firing") {
                    .state(.fail, "firing")
                } else if states.contains("pending") {
                    .state(.inconclusive, "pending")
                } else {
                    .state(.pass, "not firing")
                }
            return SignalReading(answerState, query: "alert \(name)")
        default:
            throw ProviderError(.configuration, "Prometheus cannot measure a \(query.monitor.rawValue) signal.")
        }
    }

    /// The answer of an instant query: the largest finite sample, or no data.
    static func value(of answer: JSONValue, api: PlatformAPI) throws -> SignalReading.Answer {
        guard answer["status"]?.stringValue == "success", let data = answer["data"],
            let type = data["resultType"]?.stringValue
        else { throw api.malformed("GET /api/v1/query") }
        let samples: [JSONValue] =
            switch type {
            case "vector": data["result"]?.arrayValue?.compactMap { $0["value"] } ?? []
            case "scalar": data["result"].map { [$0] } ?? []
            default:
                throw ProviderError(
                    .configuration, "Prometheus answered the query with a \(type), not a number: make it an instant vector or a scalar.")
            }
        let values = samples.compactMap { $0.arrayValue?.last?.stringValue.flatMap(Double.init) }.filter { !$0.isNaN }
        return values.max().map(SignalReading.Answer.number) ?? .noData
    }
}
