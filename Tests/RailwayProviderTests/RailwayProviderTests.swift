import Foundation
import ProviderKit
import RailwayProvider
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The Railway provider against a fake GraphQL endpoint that validates every document and its
/// variables against Railway's published schema.
@Suite struct RailwayProviderTests {
    private static func environment(_ fake: FakeAPI, timeout: String = "60s") throws -> EnvironmentConfiguration {
        try ReleaseConfiguration.parse(
            yaml: """
                app: crm-api
                environments:
                  develop:
                    provider: railway
                    railway: {project: proj-1, environment: env-dev, service: svc-api, poll_interval: 20ms, timeout: \(timeout)}
                """, file: "release.yml", providers: [RailwayProvider.providerName]
        ).environments[0]
    }

    private static func provider(
        _ environment: EnvironmentConfiguration, _ fake: FakeAPI, variables: [String: String]? = nil
    ) throws -> RailwayProvider {
        RailwayProvider(
            configuration: try RailwayProvider.Configuration(reader: environment.providerSettings),
            environment: (variables ?? ["RAILWAY_API_TOKEN": fake.apiKey]).merging(["RAILWAY_API_URL": fake.url + "/graphql/v2"]) { $1 })
    }

    private static func request(
        _ environment: EnvironmentConfiguration, _ version: String, commit: String? = "abc1234", artifact: String? = nil,
        kind: DeploymentKind = .deploy, target: JSONValue? = nil
    ) -> DeploymentRequest {
        DeploymentRequest(
            app: "crm-api", environment: environment, deploymentID: 1, kind: kind,
            release: ReleaseRecord(
                id: 1, version: version, commit: commit, artifact: artifact, notes: nil,
                createdAt: Timestamp(seconds: 0), createdBy: "alice"),
            targetReference: target)
    }

    /// The GraphQL documents the fake received, in order.
    private static func documents(_ fake: FakeAPI) async throws -> [(query: String, variables: JSONValue?)] {
        let requests = try await fake.state()["requests"]?.arrayValue ?? []
        return requests.compactMap { request in
            guard let query = request["query"]?.stringValue else { return nil }
            return (query, request["variables"])
        }
    }

    @Test func aCommitIsDeployedAndFollowedToSuccess() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            let recorded = RecordedOperations()
            let outcome = try await Self.provider(develop, fake).deploy(Self.request(develop, "1.0.0"), record: recorded.recorder)
            let deployment = try #require(outcome.liveReference["deployment"]?.stringValue)
            #expect(recorded.values.first?["deployment"]?.stringValue == deployment, "the id is written ahead")
            let documents = try await Self.documents(fake)
            let deploy = try #require(documents.first { $0.query.contains("serviceInstanceDeployV2") })
            #expect(deploy.variables?["commitSha"]?.stringValue == "abc1234")
            #expect(deploy.variables?["serviceId"]?.stringValue == "svc-api")
            #expect(deploy.variables?["environmentId"]?.stringValue == "env-dev")
        }
    }

    @Test func anImageIsSetAsTheSourceThenDeployed() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            let image = "ghcr.io/acme/crm-api:1.0.0"
            _ = try await Self.provider(develop, fake).deploy(Self.request(develop, "1.0.0", artifact: image), record: RecordedOperations().recorder)
            let documents = try await Self.documents(fake)
            let update = try #require(documents.firstIndex { $0.query.contains("serviceInstanceUpdate") })
            let deploy = try #require(documents.firstIndex { $0.query.contains("serviceInstanceDeployV2") })
            #expect(update < deploy)
            #expect(documents[update].variables?["input"]?["source"]?["image"]?.stringValue == image)
            #expect(documents[deploy].variables?["commitSha"] == nil || documents[deploy].variables?["commitSha"] == .null)
        }
    }

    @Test func rollbackRedeploysTheRecordedDeploymentAndFollowsTheNewOne() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            let provider = try Self.provider(develop, fake)
            let first = try await provider.deploy(Self.request(develop, "1.0.0"), record: RecordedOperations().recorder)
            _ = try await provider.deploy(Self.request(develop, "1.0.1", commit: "def5678"), record: RecordedOperations().recorder)
            let recorded = RecordedOperations()
            let back = try await provider.rollback(
                Self.request(develop, "1.0.0", kind: .rollback, target: first.liveReference), record: recorded.recorder)
            let target = try #require(first.liveReference["deployment"]?.stringValue)
            #expect(back.liveReference["deployment"]?.stringValue != target, "a rollback is a new deployment")
            #expect(recorded.values.first?["rollback_of"]?.stringValue == target)
            let rollback = try #require(try await Self.documents(fake).first { $0.query.contains("deploymentRollback") })
            #expect(rollback.variables?["id"]?.stringValue == target)
        }
    }

    @Test(arguments: ["CRASHED", "FAILED", "REMOVED", "SKIPPED"])
    func aDeploymentEndingInFailureIsADeploymentFailure(_ status: String) async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            try await fake.control(.object([("fail_next_deploy", .string(status))]))
            await #expect {
                _ = try await Self.provider(develop, fake).deploy(Self.request(develop, "1.0.0"), record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .failed && "\(error)".contains(status)
            }
        }
    }

    @Test func aDeploymentThatNeverFinishesHitsTheDeadline() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake, timeout: "1s")
            try await fake.control(.object([("steps", .int(100_000))]))
            await #expect {
                _ = try await Self.provider(develop, fake).deploy(Self.request(develop, "1.0.0"), record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .failed && "\(error)".contains("did not finish within 1s")
            }
        }
    }

    @Test func rateLimitsAreWaitedOut() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            try await fake.control(.object([("rate_limit_next", .int(1)), ("retry_after", .int(1))]))
            let started = ContinuousClock.now
            let outcome = try await Self.provider(develop, fake).deploy(Self.request(develop, "1.0.0"), record: RecordedOperations().recorder)
            #expect(outcome.liveReference["deployment"] != nil)
            #expect(ContinuousClock.now - started >= .seconds(1))
            let deployments = try await fake.state()["deployments"]?.arrayValue ?? []
            #expect(deployments.count == 1, "the rate-limited mutation was not acted on, and was sent once more")
        }
    }

    @Test func aProjectTokenTravelsInItsOwnHeader() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            let outcome = try await Self.provider(develop, fake, variables: ["RAILWAY_TOKEN": fake.projectToken])
                .deploy(Self.request(develop, "1.0.0"), record: RecordedOperations().recorder)
            #expect(outcome.liveReference["deployment"] != nil)
        }
    }

    @Test func badOrMissingTokensAreConfigurationErrorsThatNeverShowTheToken() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            let wrong = "rw-wrong-token-0123456789"
            await #expect {
                _ = try await Self.provider(develop, fake, variables: ["RAILWAY_API_TOKEN": wrong])
                    .deploy(Self.request(develop, "1.0.0"), record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .configuration && "\(error)".contains("RAILWAY_API_TOKEN") && !"\(error)".contains(wrong)
            }
            #expect { try Self.provider(develop, fake, variables: [:]).preflight() } throws: { error in
                (error as? ReleaseError)?.code == .usage && "\(error)".contains("RAILWAY_TOKEN")
            }
        }
    }

    @Test func resumeFollowsTheRecordedDeployment() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            let develop = try Self.environment(fake)
            let provider = try Self.provider(develop, fake)
            // The first run is stopped once it has recorded the deployment (whether or not it
            // finished); resuming must follow that deployment, never start another.
            try await fake.control(.object([("steps", .int(3))]))
            let recorded = RecordedOperations()
            let task = Task { try await provider.deploy(Self.request(develop, "1.0.0"), record: recorded.recorder) }
            for _ in 0..<300 where recorded.values.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            task.cancel()
            _ = try? await task.value
            let operation = try #require(recorded.values.first)
            let outcome = try await provider.resume(Self.request(develop, "1.0.0"), operation: operation, record: RecordedOperations().recorder)
            #expect(outcome.liveReference["deployment"] == operation["deployment"])
            let deploys = try await Self.documents(fake).filter { $0.query.contains("serviceInstanceDeployV2") }
            #expect(deploys.count == 1)
        }
    }
}
