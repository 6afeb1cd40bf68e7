import BuiltInProviders
import CommandProvider
import Foundation
import ProviderKit
import ReleaseCore
import Testing

@Suite("ProviderRegistry")
struct ProviderRegistryTests {
    static func configuration(_ yaml: String, file: String = "/srv/crm/release.yml") throws -> ReleaseConfiguration {
        try ReleaseConfiguration.parse(yaml: yaml, file: file, providers: ProviderRegistry.builtIn.names)
    }

    static func context(_ directory: String = "/srv/crm", output: @escaping @Sendable (String) -> Void = { _ in }) -> ProviderRegistry.ProviderContext
    {
        ProviderRegistry.ProviderContext(configurationDirectory: directory, environment: [:], output: output)
    }

    static let twoEnvironments = """
        app: crm-api
        environments:
          develop:
            provider: command
            command: {deploy: ./deploy.sh, workdir: ops}
          main:
            provider: heroku
            heroku: {app: crm-api-prod}
            promote_from: develop
        """

    @Test("the built-in providers are the contract's, in the order messages list them")
    func builtInProviders() {
        #expect(ProviderRegistry.builtIn.names == ["command", "heroku", "railway", "digitalocean", "aws-ecs", "aws-lambda"])
    }

    @Test("release.yml naming a provider release lacks is refused with the built-in providers' names")
    func unknownProviderNamesTheBuiltInOnes() throws {
        let error = try #require(throws: ReleaseError.self) {
            try Self.configuration(Self.twoEnvironments.replacingOccurrences(of: "provider: heroku", with: "provider: herokuu"))
        }
        #expect(
            error.message
                == "/srv/crm/release.yml:7: environments.main.provider: unknown provider 'herokuu'; "
                + "expected one of command, heroku, railway, digitalocean, aws-ecs, aws-lambda.")
    }

    @Test("the command provider is built in, configured from the environment's block and the context's folder")
    func commandIsAvailable() throws {
        let configuration = try Self.configuration(Self.twoEnvironments)
        let provider = try ProviderRegistry.builtIn.provider(for: try configuration.environment(named: "develop"), context: Self.context())
        let command = try #require(provider as? CommandProvider)
        #expect(command.configuration.deploy == "./deploy.sh")
        #expect(command.configuration.workdir == "/srv/crm/ops")
    }

    @Test("the command provider sends the script's output to the context's output")
    func commandOutputReachesContext() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "echo \"deploying $RELEASE_VERSION to $RELEASE_ENV\"\n")
            let configuration = try Self.configuration(
                """
                app: crm-api
                environments:
                  develop:
                    provider: command
                    command: {deploy: sh deploy.sh}
                """, file: directory.file("release.yml"))
            let lines = Collected<String>()
            let environment = try configuration.environment(named: "develop")
            let context = Self.context(directory.path, output: { lines.append($0) })
            let provider = try ProviderRegistry.builtIn.provider(for: environment, context: context)
            let release = ReleaseRecord(
                id: 7, version: "2.0.0", commit: "abc1234", artifact: nil, notes: nil,
                createdAt: Timestamp(seconds: 1_780_000_000), createdBy: "alice")
            _ = try await provider.deploy(
                DeploymentRequest(
                    app: "crm-api", environment: environment, deploymentID: 1,
                    kind: .deploy, release: release)
            ) { _ in }
            #expect(lines.values == ["deploying 2.0.0 to develop"])
        }
    }

    @Test("an environment using a provider the registry lacks is a usage error naming the provider, the environment and those it has")
    func missingProviderIsUsageError() throws {
        let configuration = try Self.configuration(Self.twoEnvironments)
        let error = try #require(throws: ReleaseError.self) {
            try ProviderRegistry([CommandProvider.self]).provider(for: try configuration.environment(named: "main"), context: Self.context())
        }
        #expect(error.code == .usage)
        #expect(error.message.contains("heroku"))
        #expect(error.message.contains("'main'"))
        #expect(error.message.hasSuffix("it has command."), "the message should say what there is instead")
    }

    @Test("validate reports a bad command block with its file, line and key before anything runs")
    func validateReportsBadCommandBlock() throws {
        let configuration = try Self.configuration(
            """
            app: crm-api
            environments:
              develop:
                provider: command
                command: {deploy: ./deploy.sh}
              staging:
                provider: command
                command: {deploy: ./deploy.sh, timeout: soon}
            """)
        let error = try #require(throws: ReleaseError.self) {
            try ProviderRegistry.builtIn.validate(configuration, context: Self.context())
        }
        #expect(error.code == .usage)
        #expect(error.message.hasPrefix("/srv/crm/release.yml:8:"), "\(error.message)")
        #expect(error.message.contains("environments.staging.command.timeout"))
        #expect(error.message.contains("'soon'"))
    }

    @Test("validate reports a command block without deploy")
    func validateReportsMissingDeploy() throws {
        let configuration = try Self.configuration(
            """
            app: crm-api
            environments:
              develop:
                provider: command
                command: {rollback: ./rollback.sh}
            """)
        let error = try #require(throws: ReleaseError.self) {
            try ProviderRegistry.builtIn.validate(configuration, context: Self.context())
        }
        #expect(error.code == .usage)
        #expect(error.message.contains("release.yml:5:"))
        #expect(error.message.contains("missing key 'deploy'"))
    }

    @Test("validate accepts good blocks, whatever credentials are missing (they are checked when used)")
    func validateAcceptsGoodConfiguration() throws {
        let configuration = try Self.configuration(Self.twoEnvironments)
        #expect(throws: Never.self) {
            try ProviderRegistry.builtIn.validate(configuration, context: Self.context())
        }
    }

    @Test("register adds a provider that environments can then use, after those there were")
    func registerAddsProvider() throws {
        var registry = ProviderRegistry([CommandProvider.self])
        let seen = Collected<String>()
        registry.register("heroku") { environment, context in
            seen.append("\(environment.name) in \(context.configurationDirectory)")
            return CommandProvider(
                configuration: try CommandProvider.Configuration(
                    reader: ConfigReader(file: "release.yml", path: "", value: try ConfigValue.parse(yaml: "deploy: 'true'", file: "release.yml")),
                    configurationDirectory: context.configurationDirectory))
        }
        let configuration = try Self.configuration(Self.twoEnvironments)
        _ = try registry.provider(for: try configuration.environment(named: "main"), context: Self.context())
        #expect(seen.values == ["main in /srv/crm"])
        #expect(registry.names == ["command", "heroku"])
    }
}
