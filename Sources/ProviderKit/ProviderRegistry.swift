import Foundation
import ReleaseCore

/// Builds the provider for an environment from its release.yml block.
public struct ProviderRegistry: Sendable {
    /// Makes a provider from an environment's configuration.
    public typealias Factory = @Sendable (EnvironmentConfiguration, ProviderContext) throws -> any DeploymentProvider

    /// What every provider may need besides its block.
    public struct ProviderContext: Sendable {
        /// The folder release.yml is in (relative paths are resolved against it).
        public var configurationDirectory: String
        /// The process environment (credentials, API URL overrides).
        public var environment: [String: String]
        /// Where progress lines go.
        public var output: @Sendable (String) -> Void

        /// Creates a context.
        public init(configurationDirectory: String, environment: [String: String], output: @escaping @Sendable (String) -> Void) {
            self.configurationDirectory = configurationDirectory
            self.environment = environment
            self.output = output
        }
    }

    private var factories: [String: Factory]

    /// A registry with the providers built into this binary.
    public init() {
        factories = [:]
        register("command") { environment, context in
            CommandProvider(
                configuration: try CommandProvider.Configuration(
                    reader: environment.providerSettings, configurationDirectory: context.configurationDirectory),
                output: context.output)
        }
    }

    /// Adds or replaces a provider.
    public mutating func register(_ name: String, factory: @escaping Factory) {
        factories[name] = factory
    }

    /// The provider for an environment; a usage error when this build lacks it.
    public func provider(for environment: EnvironmentConfiguration, context: ProviderContext) throws -> any DeploymentProvider {
        guard let factory = factories[environment.provider] else {
            throw ReleaseError.usage(
                "Environment '\(environment.name)' uses the \(environment.provider) provider, which this build of release does not include yet. "
                    + "Use the command provider for now.")
        }
        return try factory(environment, context)
    }

    /// Validates the provider block of every environment, so a typo fails before any work starts.
    public func validate(_ configuration: ReleaseConfiguration, context: ProviderContext) throws {
        for environment in configuration.environments where factories[environment.provider] != nil {
            _ = try provider(for: environment, context: context)
        }
    }
}
