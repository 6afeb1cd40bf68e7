import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving ECS services and Lambda aliases in moto_server, with signature checks
/// on: the smoke run on each, a rollout that fails and is rolled back on the service, recover
/// after a SIGKILL, and credentials that are missing or that AWS refuses.
@Suite struct AWSEndToEndTests {
    private typealias Platform = Harness.Platform<MotoWorld>

    @Test func theECSSmokeRunThenARolloutThatFailsIsRolledBackOnTheService() async throws {
        try await Harness.world(provider: .ecs()) { world in
            try await world.smoke("1.1.0")
            #expect(try await world.fake.service()["images"]?["web"]?.stringValue == Platform.ecsImage("1.1.0"))

            // The rollout itself fails (circuit breaker): develop is rolled back, not left half-deployed.
            try await world.create("1.3.0", ["--artifact", Platform.ecsImage("1.3.0-crashloop")])
            let failed = try await world.release("deploy", "1.3.0", "develop")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("ECS deployment circuit breaker: tasks failed to start."), "\(failed)")
            #expect(failed.stderr.contains("develop was rolled back to 1.1.0"), "\(failed)")
            let develop = try await world.fake.service("crm-api-dev")
            #expect(develop["images"]?["web"]?.stringValue == Platform.ecsImage("1.1.0"))
            #expect(develop["deployments"]?.arrayValue?.first?["rolloutState"]?.stringValue == "COMPLETED")
            #expect(try await world.live("develop") == "1.1.0")
            let verify = try await world.release("audit", "verify")
            #expect(verify.status == 0, "\(verify)")
        }
    }

    @Test func aRunKilledDuringTheRolloutIsFollowedByRecoverWithoutRegisteringAgain() async throws {
        try await Harness.world(provider: .ecs(rolloutSeconds: 3)) { world in
            // 1.1.0, not 1.0.0: the services start on 1.0.0's image, which would need no new revision.
            try await world.killedDeployIsRecovered("1.1.0", recording: "task_definition")
            let develop = try await world.fake.service("crm-api-dev")
            #expect(develop["images"]?["web"]?.stringValue == Platform.ecsImage("1.1.0"))
            #expect(
                try await world.fake.state()["task_definitions"]?.arrayValue?.count == 2,
                "recover followed the recorded revision instead of registering another")
        }
    }

    /// Credentials missing, then a session token AWS refuses and quotes back: its answer is
    /// shown, the token never, nor the secret key; a wrong secret key is refused by its signature.
    /// Nothing reaches the service.
    @Test func credentialsMissingOrRefusedAreExitTwoAndNeitherShownNorStoredNorSent() async throws {
        try await Harness.world(provider: .ecs()) { world in
            try await world.refusesCredentials(
                unset: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], missingSays: "AWS_ACCESS_KEY_ID",
                wrong: ["AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2Vj/\(UUID().uuidString)+session=="],
                wrongSays: ["The security token included in the request is invalid: ***"],
                secrets: ["AWS_SECRET_ACCESS_KEY": world.fake.secretAccessKey])

            let wrong = "wJalrXUtnFEMI-definitely-wrong-secret"
            let rejected = try await world.release(
                ["deploy", "1.0.0", "develop"], credentials: world.credentials.merging(["AWS_SECRET_ACCESS_KEY": wrong]) { $1 })
            #expect(rejected.status == 2, "\(rejected)")
            #expect(rejected.stderr.contains("SignatureDoesNotMatch"), "\(rejected)")
            let audit = try await world.release("audit", "--format", "json")
            for secret in [wrong, world.fake.secretAccessKey] {
                #expect(!rejected.output.contains(secret) && !audit.stdout.contains(secret), "\(rejected)")
            }
            #expect(try await world.fake.service("crm-api-dev")["task_definition"]?.stringValue == world.fake.firstTaskDefinition)
        }
    }

    /// Promotion moves main's alias to the very version develop verified and publishes nothing.
    @Test func theLambdaSmokeRunMovesMainsAliasToTheVersionDevelopServes() async throws {
        try await Harness.world(provider: .lambda) { world in
            try await world.smoke()
            let first = try #require(try await world.fake.aliasVersion(alias: "dev"))
            #expect(try await world.fake.aliasVersion() == first, "main serves the very version develop verified")
            try await world.promoted("1.1.0")
            let second = try #require(try await world.fake.aliasVersion())
            #expect(second != first)
            #expect(try await world.fake.aliasVersion(alias: "dev") == second)
            guard case let .object(versions)? = try await world.fake.state()["functions"]?["crm-api"]?["versions"] else {
                throw TestSupportError("moto_world shows no versions")
            }
            #expect(versions.count == 3, "one version per release: 1 from the set-up, then 1.0.0 and 1.1.0; promotion publishes nothing")
        }
    }
}
