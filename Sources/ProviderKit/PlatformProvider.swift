import ReleaseCore

/// A provider's block of release.yml: its own keys and the shared ones (`ProviderSettings`).
public protocol ProviderBlock: Sendable {
    /// `api_url`, `poll_interval` and `timeout`.
    var settings: ProviderSettings { get }

    /// Reads and validates the block.
    init(reader: ConfigReader) throws
}

/// What a provider reaches its platform with, read from the process environment: an API token
/// (`APICredential`), AWS credentials and a region.
public protocol ProviderCredentials: Sendable {
    /// A usage error, before any work starts, when something is missing.
    func preflight() throws
}

extension APICredential: ProviderCredentials {}

/// A provider that drives a platform's API, as every provider but `command` does: built from its
/// block and the process environment, which holds its credentials and API URL overrides.
public protocol PlatformProvider: RegistrableProvider {
    /// The provider's block.
    associatedtype Configuration: ProviderBlock
    /// What it reaches the platform with.
    associatedtype Credentials: ProviderCredentials

    /// What it reaches the platform with, as read when it was created.
    var credentials: Credentials { get }

    /// Creates the provider from its block and the process environment; progress lines go to `progress`.
    init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void)
}

extension PlatformProvider {
    /// Builds the provider from its release.yml block and the process environment.
    public init(block: ConfigReader, context: ProviderRegistry.ProviderContext) throws {
        self.init(configuration: try Configuration(reader: block), environment: context.environment, progress: context.output)
    }

    /// Missing credentials are a configuration error before any work starts.
    public func preflight() throws {
        try credentials.preflight()
    }
}
