/// The `health:` block: how a deployment is verified.
public struct HealthCheckConfiguration: Sendable, Equatable {
    /// The URL probed with GET.
    public var url: String
    /// The status a healthy answer has (default 200).
    public var expectStatus: Int
    /// A substring a healthy body contains, if set.
    public var expectBody: String?
    /// Per-request timeout (default 5s).
    public var timeout: TimeSpan
    /// Pause between requests (default 2s).
    public var interval: TimeSpan
    /// Consecutive passes needed (default 3).
    public var successes: Int
    /// Overall deadline (default 2m).
    public var within: TimeSpan

    /// Creates a health check with the contract's defaults.
    public init(
        url: String, expectStatus: Int = 200, expectBody: String? = nil, timeout: TimeSpan = .seconds(5),
        interval: TimeSpan = .seconds(2), successes: Int = 3, within: TimeSpan = .minutes(2)
    ) {
        self.url = url
        self.expectStatus = expectStatus
        self.expectBody = expectBody
        self.timeout = timeout
        self.interval = interval
        self.successes = successes
        self.within = within
    }

    init(reader: ConfigReader) throws {
        let entries = try reader.mapping(allowed: ["url", "expect_status", "expect_body", "timeout", "interval", "successes", "within"])
        let urlReader = try entries.required("url", "the URL to probe, such as https://crm.example.com/health/")
        url = try urlReader.string()
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw urlReader.error("expected an http:// or https:// URL, found '\(url)'.")
        }
        expectStatus = try entries["expect_status"]?.integer(in: 100...599) ?? 200
        expectBody = try entries["expect_body"]?.string()
        timeout = try entries["timeout"]?.timeSpan() ?? .seconds(5)
        interval = try entries["interval"]?.timeSpan(positive: false) ?? .seconds(2)
        successes = try entries["successes"]?.integer(in: 1...1000) ?? 3
        within = try entries["within"]?.timeSpan() ?? .minutes(2)
    }
}
