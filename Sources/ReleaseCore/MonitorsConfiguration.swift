/// release.yml's `monitors:` block: how to reach each monitoring service. Secrets come only from
/// the process environment.
public struct MonitorsConfiguration: Sendable, Equatable {
    /// `prometheus: {url, token_env}`.
    public struct Prometheus: Sendable, Equatable {
        /// The server's base URL (`https://prometheus.internal:9090`); the API is under /api/v1.
        public var url: String
        /// The variable holding a bearer token, when the server needs one.
        public var tokenVariable: String?

        /// Creates the block.
        public init(url: String, tokenVariable: String? = nil) {
            self.url = url
            self.tokenVariable = tokenVariable
        }
    }

    /// `datadog: {site, api_url}`; DD_API_KEY (events), DD_APP_KEY (queries, monitors).
    public struct Datadog: Sendable, Equatable {
        /// `datadoghq.com` (default), `datadoghq.eu`, `us5.datadoghq.com`, …
        public var site: String
        /// Overrides the API base URL (`https://api.<site>`), for tests and proxies.
        public var apiURL: String?

        /// Creates the block.
        public init(site: String = "datadoghq.com", apiURL: String? = nil) {
            self.site = site
            self.apiURL = apiURL
        }

        /// The API's base URL.
        public var baseURL: String { apiURL ?? "https://api.\(site)" }
    }

    /// `sentry: {org, project, url}`; SENTRY_AUTH_TOKEN.
    public struct Sentry: Sendable, Equatable {
        /// The organization's slug.
        public var org: String
        /// The project's slug.
        public var project: String
        /// The server (default https://sentry.io); the API is under /api/0.
        public var url: String

        /// Creates the block.
        public init(org: String, project: String, url: String = "https://sentry.io") {
            self.org = org
            self.project = project
            self.url = url
        }
    }

    /// `cloudwatch: {region}`: the AWS credentials, and endpoint variables (AWS_ENDPOINT_URL_CLOUDWATCH),
    /// the aws provider uses.
    public struct CloudWatch: Sendable, Equatable {
        /// The region; nil: AWS_REGION / AWS_DEFAULT_REGION.
        public var region: String?

        /// Creates the block.
        public init(region: String? = nil) {
            self.region = region
        }
    }

    /// Prometheus, when configured.
    public var prometheus: Prometheus?
    /// Datadog, when configured.
    public var datadog: Datadog?
    /// Sentry, when configured.
    public var sentry: Sentry?
    /// CloudWatch, when configured.
    public var cloudwatch: CloudWatch?

    /// Creates the block.
    public init(prometheus: Prometheus? = nil, datadog: Datadog? = nil, sentry: Sentry? = nil, cloudwatch: CloudWatch? = nil) {
        self.prometheus = prometheus
        self.datadog = datadog
        self.sentry = sentry
        self.cloudwatch = cloudwatch
    }
}

/// release.yml's `markers:` block: deploys marked where the team watches production.
public struct MarkersConfiguration: Sendable, Equatable {
    /// `sentry: {release_name}`: a Sentry release on `create`, a deploy at every cutover. The name
    /// may use `{{version}}` and `{{commit}}`; nil: no Sentry markers.
    public var sentryReleaseName: String?
    /// `datadog: {events: true}`: an event at every cutover, rollback and failed verification.
    public var datadogEvents: Bool

    /// Creates the block.
    public init(sentryReleaseName: String? = nil, datadogEvents: Bool = false) {
        self.sentryReleaseName = sentryReleaseName
        self.datadogEvents = datadogEvents
    }

    /// Whether any marker is configured.
    public var isEmpty: Bool { sentryReleaseName == nil && !datadogEvents }
}
