import Foundation
import ReleaseCore

/// A provider the registry can build: it has a name, which `provider:` gives in release.yml and
/// which is also the key of its block, and builds itself from that block.
public protocol RegistrableProvider: DeploymentProvider {
    /// The provider's name in release.yml (`heroku`), also the key of its block.
    static var providerName: String { get }

    /// Reads and validates the environment's block (so a typo fails before any work starts) and
    /// builds the provider.
    init(block: ConfigReader, context: ProviderRegistry.ProviderContext) throws
}

extension RegistrableProvider {
    /// Keys of the provider's block as release.yml spells them, for messages: "`aws-ecs.cluster`
    /// and `aws-ecs.region`".
    public static func blockKeys(_ keys: String...) -> String {
        let spelled = keys.map { "`\(providerName).\($0)`" }
        guard spelled.count > 1 else { return spelled.joined() }
        return spelled.dropLast().joined(separator: ", ") + " and " + spelled[spelled.count - 1]
    }
}

/// Builds the provider for an environment from its release.yml block. A registry holds the
/// providers of a build in order; its `names` are the provider names release.yml may use.
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

    private var factories: [(name: String, factory: Factory)] = []

    /// A registry with `providers`, in that order.
    public init(_ providers: [any RegistrableProvider.Type] = []) {
        for provider in providers { register(provider) }
    }

    /// The names of the providers, in the order they were registered (messages list them so).
    public var names: [String] { factories.map(\.name) }

    /// Adds a provider that builds itself from its block.
    public mutating func register(_ provider: any RegistrableProvider.Type) {
        register(provider.providerName) { environment, context in
            try provider.init(block: environment.providerSettings, context: context)
        }
    }

    /// Adds or replaces a provider.
    public mutating func register(_ name: String, factory: @escaping Factory) {
        if let index = factories.firstIndex(where: { $0.name == name }) {
            factories[index].factory = factory
        } else {
            factories.append((name, factory))
        }
    }

    /// The provider for an environment; a usage error when this registry lacks it.
    public func provider(for environment: EnvironmentConfiguration, context: ProviderContext) throws -> any DeploymentProvider {
        guard let factory = factories.first(where: { $0.name == environment.provider })?.factory else {
            throw ReleaseError.usage(
                "Environment '\(environment.name)' uses the \(environment.provider) provider, which this build of release does not include; "
                    + "it has \(names.isEmpty ? "none" : names.joined(separator: ", ")).")
        }
        return try factory(environment, context)
    }

    /// Validates the provider block of every environment, so a typo fails before any work starts.
    public func validate(_ configuration: ReleaseConfiguration, context: ProviderContext) throws {
        for environment in configuration.environments where names.contains(environment.provider) {
            _ = try provider(for: environment, context: context)
        }
    }
}
