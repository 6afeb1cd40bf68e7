import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

@testable import AWSProvider

/// The ECS and Lambda providers against moto_server with signature checks on: every request here
/// is signed by our SigV4 and would be refused if the signature were wrong.
@Suite struct MotoProviderTests {
    static func ecs(
        _ world: MotoWorld, service: String = "crm-api", timeout: String = "60s", environment: [String: String]? = nil
    ) throws -> ECSProvider {
        ECSProvider(
            configuration: try Fixtures.ecs("cluster: crm, service: \(service), container: web, poll_interval: 100ms, timeout: \(timeout)"),
            environment: environment ?? world.environment)
    }

    static func lambda(_ world: MotoWorld, environment: [String: String]? = nil) throws -> LambdaProvider {
        LambdaProvider(
            configuration: try Fixtures.lambda("function: crm-api, alias: live, poll_interval: 100ms, timeout: 60s"),
            environment: environment ?? world.environment)
    }

    @Test func ecsDeployRegistersARevisionWithOnlyTheWebImageChangedAndRollsBackToTheRecordedOne() async throws {
        try await MotoWorld.with { world in
            let provider = try Self.ecs(world)
            let recorded = RecordedOperations()
            let outcome = try await provider.deploy(
                Fixtures.request("aws-ecs", "1.1.0", artifact: "registry.example.com/crm-api:1.1.0"), record: recorded.recorder)
            let service = try await world.service()
            let deployed = try #require(service["task_definition"]?.stringValue)
            #expect(deployed.hasSuffix("task-definition/crm-api:2"))
            #expect(outcome.liveReference["task_definition"]?.stringValue == deployed)
            #expect(service["images"]?["web"]?.stringValue == "registry.example.com/crm-api:1.1.0")
            #expect(service["images"]?["log-router"]?.stringValue == "registry.example.com/log-router:2.1", "the sidecar is untouched")
            #expect(service["deployments"]?.arrayValue?.count == 1)
            #expect(service["deployments"]?.arrayValue?.first?["rolloutState"]?.stringValue == "COMPLETED")
            // Write-ahead: the new revision and the one it replaces, before UpdateService.
            #expect(recorded.values.first?["task_definition"]?.stringValue == deployed)
            #expect(recorded.values.first?["previous_task_definition"]?.stringValue == world.firstTaskDefinition)

            let back = try await provider.rollback(
                Fixtures.request(
                    "aws-ecs", "1.0.0", artifact: "registry.example.com/crm-api:1.0.0", kind: .rollback,
                    target: .object([("task_definition", .string(world.firstTaskDefinition))])),
                record: recorded.recorder)
            #expect(back.liveReference["task_definition"]?.stringValue == world.firstTaskDefinition)
            let after = try await world.service()
            #expect(after["task_definition"]?.stringValue == world.firstTaskDefinition)
            #expect(after["images"]?["web"]?.stringValue == "registry.example.com/crm-api:1.0.0")
            #expect(try await world.state()["task_definitions"]?.arrayValue?.count == 2, "a rollback registers nothing")
        }
    }

    @Test func ecsRolloutThatFailsOrNeverSettlesIsAFailureThatPartlyRolledOut() async throws {
        try await MotoWorld.with { world in
            let failing = try Self.ecs(world)
            let failed = await #expect(throws: ProviderError.self, "a FAILED rollout must fail the deploy") {
                try await failing.deploy(
                    Fixtures.request("aws-ecs", "1.1.0", artifact: "registry.example.com/crm-api:crashloop"),
                    record: RecordedOperations().recorder)
            }
            #expect(failed?.kind == .failed)
            #expect(failed?.serving == .failedRelease)
            #expect(failed?.message.contains("ECS deployment circuit breaker: tasks failed to start.") == true)

            let stuck = try Self.ecs(world, service: "crm-stuck", timeout: "2s")
            let unsettled = await #expect(throws: ProviderError.self, "a rollout that never completes must hit the deadline") {
                try await stuck.deploy(
                    Fixtures.request("aws-ecs", "1.1.0", artifact: "registry.example.com/crm-api:1.1.0"),
                    record: RecordedOperations().recorder)
            }
            #expect(unsettled?.kind == .failed)
            #expect(unsettled?.serving == .failedRelease)
            #expect(unsettled?.message.contains("did not become stable") == true)
            #expect(unsettled?.message.contains("1 of 3 tasks running") == true)
        }
    }

    @Test func lambdaDeployPublishesAVersionFromS3AndRollbackMovesTheAliasBack() async throws {
        try await MotoWorld.with { world in
            let provider = try Self.lambda(world)
            let recorded = RecordedOperations()
            let outcome = try await provider.deploy(
                Fixtures.request("aws-lambda", "1.1.0", artifact: "s3://crm-artifacts/crm-api-1.1.0.zip"), record: recorded.recorder)
            #expect(outcome.liveReference["version"]?.stringValue == "2")
            #expect(try await world.aliasVersion() == "2")
            let function = try await world.state()["functions"]?["crm-api"]
            #expect(function?["versions"]?["2"]?.stringValue == "s3://crm-artifacts/crm-api-1.1.0.zip")
            #expect(function?["versions"]?["1"]?.stringValue == "s3://crm-artifacts/crm-api-1.0.0.zip")
            #expect(recorded.values.contains { $0["version"]?.stringValue == "2" && $0["previous_version"]?.stringValue == "1" })

            _ = try await provider.rollback(
                Fixtures.request(
                    "aws-lambda", "1.0.0", artifact: "s3://crm-artifacts/crm-api-1.0.0.zip", kind: .rollback,
                    target: .object([("version", .string("1"))])),
                record: recorded.recorder)
            #expect(try await world.aliasVersion() == "1")

            let missing = await #expect(throws: ProviderError.self, "a missing S3 object must fail") {
                try await provider.deploy(
                    Fixtures.request("aws-lambda", "9.9.9", artifact: "s3://crm-artifacts/missing.zip"),
                    record: RecordedOperations().recorder)
            }
            #expect(missing?.message.contains("NoSuchKey") == true, "the AWS message is shown as it is: \(missing?.message ?? "")")
            #expect(try await world.aliasVersion() == "1", "nothing moved")
        }
    }

    @Test func wrongOrUnknownOrPowerlessCredentialsAreRefusedWithTheAWSCodeAndNoSecret() async throws {
        try await MotoWorld.with { world in
            var wrongSecret = world.environment
            wrongSecret["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-0123456789abcdef"
            var unknownKey = world.environment
            unknownKey["AWS_ACCESS_KEY_ID"] = "AKIAUNKNOWN000000000"
            var readonly = world.environment
            readonly["AWS_ACCESS_KEY_ID"] = world.description["readonly_access_key_id"]?.stringValue
            readonly["AWS_SECRET_ACCESS_KEY"] = world.description["readonly_secret_access_key"]?.stringValue
            let cases: [([String: String], String)] = [
                (wrongSecret, "SignatureDoesNotMatch"), (unknownKey, "InvalidClientTokenId"),
                (readonly, "AccessDenied"),
            ]
            for (environment, code) in cases {
                for deploy in [
                    {
                        try await Self.ecs(world, environment: environment).deploy(
                            Fixtures.request("aws-ecs", "1.1.0", artifact: "registry.example.com/crm-api:1.1.0"),
                            record: RecordedOperations().recorder)
                    },
                    {
                        try await Self.lambda(world, environment: environment).deploy(
                            Fixtures.request("aws-lambda", "1.1.0", artifact: "s3://crm-artifacts/crm-api-1.1.0.zip"),
                            record: RecordedOperations().recorder)
                    },
                ] {
                    let refused = await #expect(throws: ProviderError.self, "\(code) must be refused") { try await deploy() }
                    let message = refused?.message ?? ""
                    #expect(refused?.kind == .configuration, "\(code): \(message)")
                    #expect(message.contains(code), "the AWS error code is shown: \(message)")
                    for secret in [environment["AWS_SECRET_ACCESS_KEY"] ?? "", world.secretAccessKey] {
                        #expect(!message.contains(secret))
                    }
                }
            }
            let service = try await world.service()
            #expect(service["task_definition"]?.stringValue == world.firstTaskDefinition, "nothing changed")
            #expect(try await world.aliasVersion() == "1")
        }
    }
}
