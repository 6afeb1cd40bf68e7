import ReleaseCore

/// The keys every API provider's block shares besides its own, read in one place: `api_url` (the
/// API base URL), `poll_interval` and `timeout` (how often and how long to wait on an operation).
public struct ProviderSettings: Sendable, Equatable {
    /// The shared keys, listed after the provider's own in the error an unknown key gets.
    public static let keys = ["api_url", "poll_interval", "timeout"]

    /// The API base URL `api_url` sets, if it does.
    public var apiURL: String?
    /// How often to look at an operation while it runs.
    public var pollInterval: TimeSpan
    /// How long an operation may take.
    public var timeout: TimeSpan

    /// Creates settings (a client that has no block of its own, such as a monitoring one).
    public init(apiURL: String? = nil, pollInterval: TimeSpan = .seconds(5), timeout: TimeSpan = .minutes(30)) {
        self.apiURL = apiURL
        self.pollInterval = pollInterval
        self.timeout = timeout
    }

    /// Reads a provider's block: its own `keys` and the shared ones, any other key an error. Returns
    /// the entries, for the provider's own keys, and the shared settings, with the provider's
    /// defaults for the durations.
    public static func read(
        _ block: ConfigReader, keys: [String], pollInterval: TimeSpan, timeout: TimeSpan
    ) throws -> (entries: OrderedEntries, settings: ProviderSettings) {
        let entries = try block.mapping(allowed: keys + Self.keys)
        let settings = ProviderSettings(
            apiURL: try entries["api_url"]?.string(),
            pollInterval: try entries["poll_interval"]?.timeSpan() ?? pollInterval,
            timeout: try entries["timeout"]?.timeSpan() ?? timeout)
        return (entries, settings)
    }

    /// The API base URL: the first of `variables` set in the process environment (how tests and
    /// proxies point `release` elsewhere), else `api_url`, else the platform's own.
    public func baseURL(overriddenBy variables: [String], in environment: [String: String], platform: String) -> String {
        variables.lazy.compactMap { environment.nonEmpty($0) }.first ?? apiURL ?? platform
    }

    /// A poller with these settings' cadence and deadline.
    public func poller(progress: @escaping @Sendable (String) -> Void = { _ in }) -> Poller {
        Poller(interval: pollInterval, timeout: timeout, progress: progress)
    }
}
