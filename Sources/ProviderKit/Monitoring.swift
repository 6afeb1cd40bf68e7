import ReleaseCore

/// A monitoring service that measures signals (Prometheus, Datadog, Sentry, CloudWatch).
public protocol SignalSource: Sendable {
    /// Fails before any deployment starts when a credential `query` needs is missing: a usage error
    /// naming the variable (exit 2).
    func preflight(for query: SignalQuery) throws

    /// Measures `query`, its templates filled, over `window`. Throws `ProviderError`:
    /// `.configuration` when the service rejects the credentials or does not know what is asked
    /// (401, 403, 404: exit 2, naming the variable and the scope it needs), `.unreachable` when it
    /// kept failing after retries that honour Retry-After and rate-limit headers (the measurement
    /// is an error, never a pass and never a failure).
    func measure(_ query: SignalQuery, over window: SignalWindow) async throws -> SignalReading
}

/// A moment worth marking where the team watches production.
public struct DeployMark: Sendable, Equatable {
    /// What happened.
    public enum Kind: String, Sendable {
        /// `release create`: Sentry gets a release.
        case created
        /// A release took the traffic of an environment (any kind of deployment).
        case cutover
        /// A rollback put an earlier release back.
        case rollback
        /// A deployment failed its verification.
        case verificationFailed = "verification_failed"
    }

    /// What happened.
    public var kind: Kind
    /// The app.
    public var app: String
    /// The release's version.
    public var version: String
    /// The release's name in markers (`markers.sentry.release_name` filled), else the version.
    public var releaseName: String
    /// The release's commit, when known.
    public var commit: String?
    /// The environment (`labels.env`, else its name); nil for `created`.
    public var environment: String?
    /// The service (`labels.service`, else the app).
    public var service: String
    /// When it happened.
    public var at: Timestamp
    /// One sentence about it, for the event's text.
    public var message: String

    /// Creates a mark.
    public init(
        kind: Kind, app: String, version: String, releaseName: String, commit: String?, environment: String?, service: String,
        at: Timestamp, message: String
    ) {
        self.kind = kind
        self.app = app
        self.version = version
        self.releaseName = releaseName
        self.commit = commit
        self.environment = environment
        self.service = service
        self.at = at
        self.message = message
    }
}

/// Writes deploy markers into one service. A marker never fails an operation: the engine tries a
/// mark three times, then warns and audits `marker.failed`.
public protocol DeployMarker: Sendable {
    /// The service, as messages and the audit trail name it ("Sentry", "Datadog").
    var service: String { get }

    /// Whether this marker writes anything for `kind` (Sentry: created and cutover; Datadog:
    /// cutover, rollback and failed verification).
    func marks(_ kind: DeployMark.Kind) -> Bool

    /// Writes the mark once (the engine retries); throws `ProviderError`.
    func mark(_ mark: DeployMark) async throws
}

/// Builds signal sources and deploy markers from `monitors:` and `markers:`. The sources outside
/// ProviderKit (CloudWatch, in the aws provider's module) are registered by `BuiltInProviders`.
public struct MonitoringRegistry: Sendable {
    /// Makes the source for a monitor from `monitors:` and the process environment; nil when the
    /// block does not configure it.
    public typealias SourceFactory = @Sendable (MonitorsConfiguration, [String: String]) throws -> (any SignalSource)?
    /// Makes the markers `markers:` asks for.
    public typealias MarkerFactory =
        @Sendable (MarkersConfiguration, MonitorsConfiguration, [String: String]) throws -> [any DeployMarker]

    private var sources: [Monitor: SourceFactory] = [:]
    private var markerFactory: MarkerFactory = { _, _, _ in [] }

    /// An empty registry.
    public init() {}

    /// Adds or replaces the source of `monitor`.
    public mutating func register(_ monitor: Monitor, source: @escaping SourceFactory) {
        sources[monitor] = source
    }

    /// Sets how markers are made.
    public mutating func registerMarkers(_ factory: @escaping MarkerFactory) {
        markerFactory = factory
    }

    /// The source for `monitor`; a usage error when `monitors:` lacks it or this build has none.
    public func source(
        for monitor: Monitor, monitors: MonitorsConfiguration, environment: [String: String], file: String
    ) throws -> any SignalSource {
        guard let factory = sources[monitor] else {
            throw ReleaseError.usage("This build of release cannot measure \(monitor.rawValue) signals.")
        }
        guard let source = try factory(monitors, environment) else {
            throw ReleaseError.usage(
                "A signal asks \(monitor.rawValue), which `monitors:` in \(file) does not configure: add `monitors.\(monitor.rawValue)`.")
        }
        return source
    }

    /// The markers `markers:` asks for.
    public func markers(
        _ markers: MarkersConfiguration, monitors: MonitorsConfiguration, environment: [String: String]
    ) throws -> [any DeployMarker] {
        try markerFactory(markers, monitors, environment)
    }
}
