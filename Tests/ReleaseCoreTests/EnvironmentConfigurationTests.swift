import ReleaseCore
import Testing

private func singleEnvironment(_ body: String) -> String {
    """
    app: crm-api
    environments:
      prod:
    \(body)
    """
}

@Suite("EnvironmentConfiguration")
struct EnvironmentConfigurationTests {
    @Test(
        "each contract provider is accepted with its own block, kept for the provider to read",
        arguments: providerNames)
    func providers(name: String) throws {
        let config = try configuration(
            singleEnvironment(
                """
                    provider: \(name)
                    \(name): {api_url: "http://127.0.0.1:9999"}
                """))
        let prod = try config.environment(named: "prod")
        #expect(prod.provider == name)
        #expect(prod.providerSettings.path == "environments.prod.\(name)")
        #expect(try prod.providerSettings.mapping(allowed: ["api_url"])["api_url"]?.string() == "http://127.0.0.1:9999")
    }

    @Test("a provider block must be present, even an empty one is not enough")
    func providerBlockRequired() {
        let missing = configError(singleEnvironment("    provider: command"))
        #expect(missing.hasPrefix("release.yml:4: environments.prod: missing key 'command'"), "\(missing)")
        let null = configError(singleEnvironment("    provider: command\n    command:"))
        #expect(null.hasPrefix("release.yml:4: environments.prod: missing key 'command'"), "\(null)")
    }

    @Test("the block of another provider is refused, even when this provider's block is there")
    func otherProviderBlock() {
        let message = configError(
            singleEnvironment(
                """
                    provider: command
                    command: {deploy: ./deploy.sh}
                    aws-ecs: {region: eu-west-1, cluster: c, service: s, container: web}
                """))
        #expect(
            message.hasPrefix(
                "release.yml:6: environments.prod.aws-ecs: this environment uses provider 'command'; remove the 'aws-ecs' block"),
            "\(message)")
    }

    @Test("provider names are exact", arguments: ["Heroku", "aws_ecs", "aws", "docker", "commands"])
    func unknownProvider(name: String) {
        let message = configError(singleEnvironment("    provider: \(name)\n    command: {deploy: x}"))
        #expect(message.hasPrefix("release.yml:4: environments.prod.provider: unknown provider '\(name)'"), "\(message)")
    }

    @Test("on_failure: rollback by default, stop when asked")
    func onFailure() throws {
        let base = "    provider: command\n    command: {deploy: x}"
        #expect(try configuration(singleEnvironment(base)).environments[0].onFailure == .rollback)
        #expect(try configuration(singleEnvironment(base + "\n    on_failure: stop")).environments[0].onFailure == .stop)
        #expect(try configuration(singleEnvironment(base + "\n    on_failure: rollback")).environments[0].onFailure == .rollback)
        let message = configError(singleEnvironment(base + "\n    on_failure: Stop"))
        #expect(
            message.hasPrefix("release.yml:6: environments.prod.on_failure: expected rollback or stop, found 'Stop'."),
            "\(message)")
    }

    @Test("an unknown environment key lists every key an environment takes")
    func unknownKey() {
        let message = configError(singleEnvironment("    provider: command\n    command: {deploy: x}\n    promote-from: dev"))
        #expect(
            message.hasPrefix(
                "release.yml:6: environments.prod.promote-from: unknown key 'promote-from'; expected one of provider, promote_from, gates, health, "
                    + "labels, verify, on_failure, git, command, heroku, railway, digitalocean, aws-ecs, aws-lambda."
            ),
            "\(message)")
    }

    @Test("the direct initializer has the contract's defaults")
    func directInit() {
        let env = EnvironmentConfiguration(name: "dev", provider: "command", providerSettings: emptySettings)
        #expect(env.promoteFrom == nil)
        #expect(env.health == nil)
        #expect(env.onFailure == .rollback)
        #expect(env.gates.allows("anyone"))
        #expect(env.git == nil)
        #expect(EnvironmentConfiguration.FailurePolicy(rawValue: "stop") == .stop)
    }
}
