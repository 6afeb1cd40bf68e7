import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving ECS services and a Lambda alias in moto_server, with signature checks
/// on: promotion of the same image, a rollout that fails or goes live unhealthy followed by the
/// engine's rollback, recover after a SIGKILL, and credentials AWS refuses.
@Suite struct AWSEndToEndTests {
    private static func ecsConfig(_ world: MotoWorld, timeout: String = "60s") -> String {
        """
        app: crm-api
        environments:
          develop:
            provider: aws-ecs
            aws-ecs: {cluster: crm, service: crm-api-dev, container: web, poll_interval: 100ms, timeout: \(timeout)}
          main:
            provider: aws-ecs
            aws-ecs: {cluster: crm, service: crm-api, container: web, poll_interval: 100ms, timeout: \(timeout)}
            promote_from: develop
            health: {url: "\(world.ecsHealthURL())", interval: 100ms, successes: 2, within: 2s}

        """
    }

    private static func image(_ tag: String) -> String { "registry.example.com/crm-api:\(tag)" }

    private static func mustSucceed(_ harness: Harness, _ arguments: String...) async throws {
        let result = try await harness.run(arguments)
        guard result.status == 0 else { throw TestSupportError("\(arguments) failed: \(result)") }
    }

    private static func live(_ harness: Harness, _ environment: String) async throws -> String? {
        try await harness.run("status", environment, "--json").json?["environments"]?.arrayValue?.first?["live"]?["version"]?.stringValue
    }

    @Test func ecsPromotionPutsTheSameImageOnMainAndAnUnhealthyOrFailedRolloutIsRolledBack() async throws {
        try await MotoWorld.with { world in
            try await Harness.with { harness in
                try harness.writeConfig(Self.ecsConfig(world))
                harness.environment.merge(world.environment) { $1 }
                try await Self.mustSucceed(harness, "create", "1.1.0", "--artifact", Self.image("1.1.0"))
                try await Self.mustSucceed(harness, "deploy", "1.1.0", "develop")
                let promote = try await harness.run("promote", "develop", "main")
                #expect(promote.status == 0, "\(promote)")
                let main = try await world.service()
                let onePointOne = try #require(main["task_definition"]?.stringValue)
                #expect(main["images"]?["web"]?.stringValue == Self.image("1.1.0"))
                #expect(try await Self.live(harness, "main") == "1.1.0")

                // The rollout itself fails (circuit breaker): develop is rolled back, not left half-deployed.
                try await Self.mustSucceed(harness, "create", "1.3.0", "--artifact", Self.image("1.3.0-crashloop"))
                let failed = try await harness.run("deploy", "1.3.0", "develop")
                #expect(failed.status == 1, "\(failed)")
                #expect(failed.stderr.contains("ECS deployment circuit breaker: tasks failed to start."), "\(failed)")
                #expect(failed.stderr.contains("develop was rolled back to 1.1.0"), "\(failed)")
                let develop = try await world.service("crm-api-dev")
                #expect(develop["images"]?["web"]?.stringValue == Self.image("1.1.0"))
                #expect(develop["deployments"]?.arrayValue?.first?["rolloutState"]?.stringValue == "COMPLETED")
                #expect(try await Self.live(harness, "develop") == "1.1.0")

                // Goes live, then fails main's health probe: the engine puts 1.1.0's revision back.
                try await Self.mustSucceed(harness, "create", "1.2.0-broken", "--artifact", Self.image("1.2.0-broken"))
                try await Self.mustSucceed(harness, "deploy", "1.2.0-broken", "develop")
                let unhealthy = try await harness.run("promote", "develop", "main")
                #expect(unhealthy.status == 1, "\(unhealthy)")
                #expect(unhealthy.stderr.contains("main was rolled back to 1.1.0"), "\(unhealthy)")
                let after = try await world.service()
                #expect(after["task_definition"]?.stringValue == onePointOne)
                #expect(after["images"]?["web"]?.stringValue == Self.image("1.1.0"))
                #expect(try await Self.live(harness, "main") == "1.1.0")
                let verify = try await harness.run("audit", "verify")
                #expect(verify.status == 0, "\(verify)")
            }
        }
    }

    @Test func aRunKilledDuringTheRolloutIsFollowedByRecoverWithoutRegisteringAgain() async throws {
        try await MotoWorld.with(rolloutSeconds: 3) { world in
            try await Harness.with { harness in
                try harness.writeConfig(Self.ecsConfig(world))
                harness.environment.merge(world.environment) { $1 }
                try await Self.mustSucceed(harness, "create", "1.1.0", "--artifact", Self.image("1.1.0"))
                let running = try harness.start(["deploy", "1.1.0", "develop"])
                #expect(try await harness.waitForRecordedOperation("task_definition"), "the task definition is written ahead")
                kill(running.pid, SIGKILL)
                _ = await running.finish()
                let recover = try await harness.run("recover", "develop")
                #expect(recover.status == 0, "\(recover)")
                #expect(try await Self.live(harness, "develop") == "1.1.0")
                let develop = try await world.service("crm-api-dev")
                #expect(develop["images"]?["web"]?.stringValue == Self.image("1.1.0"))
                #expect(
                    try await world.state()["task_definitions"]?.arrayValue?.count == 2,
                    "recover followed the recorded revision instead of registering another")
            }
        }
    }

    @Test func credentialsAWSRefusesAreExitTwoAndNeverShown() async throws {
        try await MotoWorld.with { world in
            try await Harness.with { harness in
                try harness.writeConfig(Self.ecsConfig(world))
                try await Self.mustSucceed(harness, "create", "1.1.0", "--artifact", Self.image("1.1.0"))
                let before = try await harness.snapshot()
                let missing = try await harness.run(
                    ["deploy", "1.1.0", "develop"],
                    environment: ["AWS_REGION": world.region, "AWS_ENDPOINT_URL": world.endpoint])
                #expect(missing.status == 2, "\(missing)")
                #expect(missing.stderr.contains("AWS_ACCESS_KEY_ID"), "\(missing)")
                #expect(try await harness.snapshot() == before, "nothing is recorded before credentials are known")

                let wrong = "wJalrXUtnFEMI-definitely-wrong-secret"
                var environment = world.environment
                environment["AWS_SECRET_ACCESS_KEY"] = wrong
                let rejected = try await harness.run(["deploy", "1.1.0", "develop"], environment: environment)
                #expect(rejected.status == 2, "\(rejected)")
                #expect(rejected.stderr.contains("SignatureDoesNotMatch"), "\(rejected)")
                #expect(!rejected.output.contains(wrong))
                let audit = try await harness.run("audit", "--format", "json")
                #expect(!audit.stdout.contains(wrong))
                #expect(!audit.stdout.contains(world.secretAccessKey))
                #expect(try await world.service("crm-api-dev")["task_definition"]?.stringValue == world.firstTaskDefinition)
            }
        }
    }

    @Test func lambdaPromotionMovesMainsAliasToTheVersionDevelopServesAndUnhealthyCodeIsRolledBack() async throws {
        try await MotoWorld.with { world in
            try await Harness.with { harness in
                try harness.writeConfig(
                    """
                    app: crm-api
                    environments:
                      develop:
                        provider: aws-lambda
                        aws-lambda: {function: crm-api, alias: dev, poll_interval: 100ms, timeout: 60s}
                      main:
                        provider: aws-lambda
                        aws-lambda: {function: crm-api, alias: live, poll_interval: 100ms, timeout: 60s}
                        promote_from: develop
                        health: {url: "\(world.lambdaHealthURL())", interval: 100ms, successes: 2, within: 2s}

                    """)
                harness.environment.merge(world.environment) { $1 }
                for (version, key) in [("1.0.0", "crm-api-1.0.0.zip"), ("1.1.0", "crm-api-1.1.0.zip"), ("1.2.0", "crm-api-broken.zip")] {
                    try await Self.mustSucceed(harness, "create", version, "--artifact", "s3://crm-artifacts/\(key)")
                }
                try await Self.mustSucceed(harness, "deploy", "1.0.0", "develop")
                let first = try #require(try await world.aliasVersion(alias: "dev"))
                try await Self.mustSucceed(harness, "promote", "develop", "main")
                #expect(try await world.aliasVersion() == first, "main serves the very version develop verified")
                try await Self.mustSucceed(harness, "deploy", "1.1.0", "develop")
                try await Self.mustSucceed(harness, "promote", "develop", "main")
                let second = try #require(try await world.aliasVersion())
                #expect(second != first)
                guard case let .object(versions)? = try await world.state()["functions"]?["crm-api"]?["versions"] else {
                    throw TestSupportError("moto_world shows no versions")
                }
                #expect(
                    versions.count == 3,
                    "one version per release: 1 from the set-up, then 1.0.0 and 1.1.0; promotion publishes nothing")

                try await Self.mustSucceed(harness, "deploy", "1.2.0", "develop")
                let broken = try await harness.run("promote", "develop", "main")
                #expect(broken.status == 1, "\(broken)")
                #expect(broken.stderr.contains("main was rolled back to 1.1.0"), "\(broken)")
                #expect(try await world.aliasVersion() == second)

                let rollback = try await harness.run("rollback", "main", "--reason", "checkout errors since 1.1.0")
                #expect(rollback.status == 0, "\(rollback)")
                #expect(try await world.aliasVersion() == first)
                #expect(try await Self.live(harness, "main") == "1.0.0")
                let verify = try await harness.run("audit", "verify")
                #expect(verify.status == 0, "\(verify)")
            }
        }
    }

    @Test func aSessionTokenAWSQuotesBackIsNeitherShownNorStoredNorSent() async throws {
        try await MotoWorld.with { world in
            try await Harness.with { harness in
                try await Self.mustSucceed(harness, "create", "1.1.0", "--artifact", Self.image("1.1.0"))
                try await world.control(.object([("echo_credentials", .bool(true))]))
                let token = "IQoJb3JpZ2luX2Vj/\(UUID().uuidString)+session=="
                var environment = world.environment
                environment["AWS_SESSION_TOKEN"] = token
                let failed = try await harness.failingDeployLeavesNoSecret(
                    config: Self.ecsConfig(world), version: "1.1.0", environment: environment,
                    secrets: ["AWS_SESSION_TOKEN": token, "AWS_SECRET_ACCESS_KEY": world.secretAccessKey])
                #expect(failed.status == 2, "\(failed)")
                #expect(
                    failed.stderr.contains("The security token included in the request is invalid: ***"),
                    "AWS's answer is shown, hidden: \(failed)")
            }
        }
    }
}
