/// One environment in release.yml.
public struct EnvironmentConfiguration: Sendable {
    /// The environment's name (`develop`, `main`).
    public var name: String
    /// The provider that deploys here.
    public var provider: String
    /// The provider's own block (`heroku:`, `command:`, …), read by the provider.
    public var providerSettings: ConfigReader
    /// The environment this one receives promotions from; such an environment takes no direct deploys.
    public var promoteFrom: String?
    /// Where `promote_from` was written, for errors.
    public var promoteFromReader: ConfigReader?
    /// The gates every deployment into this environment passes.
    public var gates: GatePolicy
    /// The health probe that verifies every deployment, if configured.
    public var health: HealthCheckConfiguration?
    /// What to do when verification fails.
    public var onFailure: FailurePolicy
    /// Branch sync (`git:`), if configured.
    public var git: GitSyncConfiguration?
    /// `labels:`: `env` and `service` fill `{{env}}` and `{{service}}` in queries and markers.
    public var labels: [String: String]
    /// The signals that verify a deployment after its health URL (`verify:`), if configured.
    public var verify: VerifyConfiguration?

    /// `{{env}}`: `labels.env`, else the environment's name.
    public var envLabel: String { labels["env"] ?? name }

    /// What happens after a failed verification.
    public enum FailurePolicy: String, Sendable {
        /// Quarantine the release and roll back to the last verified one.
        case rollback
        /// Quarantine the release and leave the environment as it is, for a human.
        case stop
    }

    /// Creates an environment directly (tests).
    public init(
        name: String, provider: String, providerSettings: ConfigReader, promoteFrom: String? = nil,
        gates: GatePolicy = GatePolicy(), health: HealthCheckConfiguration? = nil,
        onFailure: FailurePolicy = .rollback, git: GitSyncConfiguration? = nil, labels: [String: String] = [:],
        verify: VerifyConfiguration? = nil
    ) {
        self.name = name
        self.provider = provider
        self.providerSettings = providerSettings
        self.promoteFrom = promoteFrom
        self.gates = gates
        self.health = health
        self.onFailure = onFailure
        self.git = git
        self.labels = labels
        self.verify = verify
    }

    /// Reads an environment's block; `providers` are the provider names it may use, each also the
    /// key of that provider's block; `monitors` are the services its signals may ask.
    init(name: String, reader: ConfigReader, providers: [String], monitors: MonitorsConfiguration) throws {
        self.name = name
        let entries = try reader.mapping(
            allowed: ["provider", "promote_from", "gates", "health", "labels", "verify", "on_failure", "git"] + providers)
        let providerReader = try entries.required("provider", "one of \(providers.joined(separator: ", "))")
        provider = try providerReader.string()
        guard providers.contains(provider) else {
            throw providerReader.error("unknown provider '\(provider)'; expected one of \(providers.joined(separator: ", ")).")
        }
        for other in providers where other != provider && entries[other] != nil {
            throw entries[other]!.error("this environment uses provider '\(provider)'; remove the '\(other)' block or change `provider:`.")
        }
        providerSettings = try entries.required(provider, "the settings of the \(provider) provider")
        promoteFromReader = entries["promote_from"]
        promoteFrom = try promoteFromReader?.string()
        gates = try entries["gates"].map(GatePolicy.init(reader:)) ?? GatePolicy()
        health = try entries["health"].map(HealthCheckConfiguration.init(reader:))
        if let failureReader = entries["on_failure"] {
            let text = try failureReader.string()
            guard let policy = FailurePolicy(rawValue: text) else {
                throw failureReader.error("expected rollback or stop, found '\(text)'.")
            }
            onFailure = policy
        } else {
            onFailure = .rollback
        }
        git = try entries["git"].map(GitSyncConfiguration.init(reader:))
        labels = try entries["labels"].map(Self.readLabels(reader:)) ?? [:]
        verify = try entries["verify"].map { try VerifyConfiguration(reader: $0, monitors: monitors) }
    }
}
