import DigitalOceanProvider
import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The DigitalOcean provider against a fake App Platform API that checks every request against
/// the official OpenAPI description.
@Suite struct DigitalOceanProviderTests {
    private static func environment(component: String = "api", timeout: String = "20s") throws -> EnvironmentConfiguration {
        try ReleaseConfiguration.parse(
            yaml: """
                app: crm-api
                environments:
                  develop:
                    provider: digitalocean
                    digitalocean: {app: app-dev, component: \(component), poll_interval: 20ms, timeout: \(timeout)}
                """, file: "release.yml", providers: [DigitalOceanProvider.providerName]
        ).environments[0]
    }

    private static func provider(_ environment: EnvironmentConfiguration, _ fake: FakeAPI, token: String? = nil) throws -> DigitalOceanProvider {
        DigitalOceanProvider(
            configuration: try DigitalOceanProvider.Configuration(reader: environment.providerSettings),
            environment: ["DIGITALOCEAN_ACCESS_TOKEN": token ?? fake.apiKey, "DIGITALOCEAN_API_URL": fake.url])
    }

    private static func request(
        _ environment: EnvironmentConfiguration, _ version: String, artifact: String?,
        kind: DeploymentKind = .deploy, target: JSONValue? = nil
    ) -> DeploymentRequest {
        DeploymentRequest(
            app: "crm-api", environment: environment, deploymentID: 1, kind: kind,
            release: ReleaseRecord(
                id: 1, version: version, commit: "abc1234", artifact: artifact, notes: nil,
                createdAt: Timestamp(seconds: 0), createdBy: "alice"),
            targetReference: target)
    }

    private static func requests(_ fake: FakeAPI) async throws -> [(method: String, path: String, body: JSONValue?)] {
        try await fake.requests().map { ($0.method, $0.path, $0.body) }
    }

    @Test func anImageTagIsSetInTheSpecAndTheDeploymentFollowedToActive() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment()
            let recorded = RecordedOperations()
            let outcome = try await Self.provider(develop, fake).deploy(
                Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0"), record: recorded.recorder)
            let deployment = try #require(outcome.liveReference["deployment"]?.stringValue)
            #expect(recorded.values.first?["deployment"]?.stringValue == deployment, "written ahead")
            let put = try #require(try await Self.requests(fake).first { $0.method == "PUT" })
            #expect(put.path == "/v2/apps/app-dev")
            let service = put.body?["spec"]?["services"]?.arrayValue?.first { $0["name"]?.stringValue == "api" }
            #expect(service?["image"]?["tag"]?.stringValue == "1.0.0")
            #expect(service?["image"]?["repository"]?.stringValue == "crm-api", "the rest of the spec is kept")
        }
    }

    @Test func aDigestReplacesTheTag() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment()
            let digest = "sha256:" + String(repeating: "c3", count: 32)
            _ = try await Self.provider(develop, fake).deploy(
                Self.request(develop, "1.0.0", artifact: "crm-api@" + digest), record: RecordedOperations().recorder)
            let put = try #require(try await Self.requests(fake).first { $0.method == "PUT" })
            let image = put.body?["spec"]?["services"]?.arrayValue?.first?["image"]
            #expect(image?["digest"]?.stringValue == digest)
            #expect(image?["tag"] == nil)
        }
    }

    @Test func withoutAnImageABuildIsForced() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment()
            let outcome = try await Self.provider(develop, fake).deploy(
                Self.request(develop, "1.0.0", artifact: nil), record: RecordedOperations().recorder)
            #expect(outcome.liveReference["deployment"] != nil)
            let post = try #require(try await Self.requests(fake).first { $0.method == "POST" })
            #expect(post.path == "/v2/apps/app-dev/deployments")
            #expect(post.body?["force_build"] == .bool(true))
        }
    }

    @Test func aFailedDeploymentNamesItsFailingStep() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment()
            try await fake.control(.object([("fail_next_deployment", .bool(true))]))
            await #expect {
                _ = try await Self.provider(develop, fake).deploy(
                    Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0"), record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .failed && "\(error)".contains("ERROR") && "\(error)".contains("failed:")
            }
        }
    }

    @Test func rollbackIsValidatedThenCommittedOnceVerifiedOrRevertedWhenNot() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment()
            let provider = try Self.provider(develop, fake)
            let first = try await provider.deploy(Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0"), record: RecordedOperations().recorder)
            _ = try await provider.deploy(Self.request(develop, "1.0.1", artifact: "crm-api:1.0.1"), record: RecordedOperations().recorder)
            let request = Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0", kind: .rollback, target: first.liveReference)
            let back = try await provider.rollback(request, record: RecordedOperations().recorder)
            #expect(back.liveReference["pinned"] == .bool(true))
            try await provider.settle(request, outcome: back.liveReference, healthy: true)
            var paths = try await Self.requests(fake).filter { $0.method == "POST" }.map(\.path)
            #expect(paths.suffix(3) == ["/v2/apps/app-dev/rollback/validate", "/v2/apps/app-dev/rollback", "/v2/apps/app-dev/rollback/commit"])

            let again = try await provider.rollback(request, record: RecordedOperations().recorder)
            try await provider.settle(request, outcome: again.liveReference, healthy: false)
            paths = try await Self.requests(fake).filter { $0.method == "POST" }.map(\.path)
            #expect(paths.last == "/v2/apps/app-dev/rollback/revert")
        }
    }

    @Test func aRollbackRefusedInValidationSaysWhy() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment()
            let provider = try Self.provider(develop, fake)
            let first = try await provider.deploy(Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0"), record: RecordedOperations().recorder)
            try await fake.control(.object([("invalid_rollback", .bool(true))]))
            await #expect {
                _ = try await provider.rollback(
                    Self.request(develop, "1.0.0", artifact: nil, kind: .rollback, target: first.liveReference),
                    record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .failed && "\(error)".contains("refused to roll app app-dev back")
            }
            let posts = try await Self.requests(fake).filter { $0.method == "POST" }.map(\.path)
            #expect(!posts.contains("/v2/apps/app-dev/rollback"), "nothing is rolled back after a failed validation")
        }
    }

    @Test func anUnknownComponentIsAConfigurationError() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment(component: "web")
            await #expect {
                _ = try await Self.provider(develop, fake).deploy(
                    Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0"), record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .configuration && "\(error)".contains("no service, worker or job named 'web'")
                    && "\(error)".contains("api")
            }
        }
    }

    @Test func rateLimitsAreWaitedOutAndBadTokensNeverShown() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment()
            try await fake.control(.object([("rate_limit_next", .int(1)), ("retry_after", .int(1))]))
            let started = ContinuousClock.now
            _ = try await Self.provider(develop, fake).deploy(
                Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0"), record: RecordedOperations().recorder)
            #expect(ContinuousClock.now - started >= .seconds(1))
            let wrong = "dop_v1_wrongwrongwrong"
            await #expect {
                _ = try await Self.provider(develop, fake, token: wrong).deploy(
                    Self.request(develop, "1.0.1", artifact: "crm-api:1.0.1"), record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .configuration && "\(error)".contains("DIGITALOCEAN_ACCESS_TOKEN") && !"\(error)".contains(wrong)
            }
        }
    }

    @Test func aDeploymentThatNeverFinishesHitsTheDeadline() async throws {
        try await FakeAPI.digitalOcean { fake in
            let develop = try Self.environment(timeout: "1s")
            try await fake.control(.object([("steps", .int(100_000))]))
            await #expect {
                _ = try await Self.provider(develop, fake).deploy(
                    Self.request(develop, "1.0.0", artifact: "crm-api:1.0.0"), record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .failed && "\(error)".contains("did not finish within 1s")
            }
        }
    }
}
