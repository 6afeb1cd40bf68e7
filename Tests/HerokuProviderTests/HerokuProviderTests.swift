import Foundation
import HerokuProvider
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The Heroku provider against a fake Platform API that follows the official schema.
@Suite struct HerokuProviderTests {
    private static func environments(_ fake: FakeAPI) throws -> ReleaseConfiguration {
        try ReleaseConfiguration.parse(
            yaml: """
                app: crm-api
                environments:
                  develop:
                    provider: heroku
                    heroku: {app: crm-dev, poll_interval: 50ms, timeout: 60s}
                  main:
                    provider: heroku
                    heroku: {app: crm-prod, poll_interval: 50ms, timeout: 60s}
                    promote_from: develop
                """, file: "release.yml", providers: [HerokuProvider.providerName])
    }

    private static func provider(_ environment: EnvironmentConfiguration, _ fake: FakeAPI, key: String? = nil) throws -> HerokuProvider {
        HerokuProvider(
            configuration: try HerokuProvider.Configuration(reader: environment.providerSettings),
            environment: ["HEROKU_API_KEY": key ?? fake.apiKey, "HEROKU_API_URL": fake.url])
    }

    private static func release(
        _ version: String, artifact: String? = "https://example.com/crm-api.tar.gz", commit: String = "abc1234"
    ) -> ReleaseRecord {
        ReleaseRecord(id: 1, version: version, commit: commit, artifact: artifact, notes: nil, createdAt: Timestamp(seconds: 0), createdBy: "alice")
    }

    @Test func aTarballBecomesABuildFollowedThroughItsReleasePhase() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            let recorded = RecordedOperations()
            let request = DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0"))
            let outcome = try await Self.provider(develop, fake).deploy(request, record: recorded.recorder)
            #expect(outcome.liveReference["release"]?.stringValue != nil)
            #expect(outcome.liveReference["slug"]?.stringValue != nil)
            #expect(outcome.summary.contains("crm-dev"))
            // Write-ahead: the build id first, then the release and slug it produced.
            #expect(recorded.values.first?["build"]?.stringValue != nil)
            #expect(recorded.values.last?["release"]?.stringValue == outcome.liveReference["release"]?.stringValue)
            let requests = try await fake.requests()
            let create = try #require(requests.first { $0.method == "POST" })
            #expect(create.path == "/apps/crm-dev/builds")
            #expect(create.body?["source_blob"]?["url"]?.stringValue == "https://example.com/crm-api.tar.gz")
            #expect(create.body?["source_blob"]?["version"]?.stringValue == "abc1234")
            #expect(
                create.headers?["Accept"]?.stringValue == "application/vnd.heroku+json; version=3"
                    || create.headers?["accept"]?.stringValue == "application/vnd.heroku+json; version=3")
            let agent = create.headers?["User-Agent"]?.stringValue ?? create.headers?["user-agent"]?.stringValue ?? ""
            #expect(agent.hasPrefix("release/"))
        }
    }

    @Test func promotionReleasesTheSourceSlugWithoutRebuilding() async throws {
        try await FakeAPI.heroku { fake in
            let configuration = try Self.environments(fake)
            let (develop, main) = (configuration.environments[0], configuration.environments[1])
            let built = try await Self.provider(develop, fake).deploy(
                DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0")),
                record: RecordedOperations().recorder)
            let slug = try #require(built.liveReference["slug"]?.stringValue)
            let promoted = try await Self.provider(main, fake).deploy(
                DeploymentRequest(
                    app: "crm-api", environment: main, deploymentID: 2, kind: .promote, release: Self.release("1.0.0"),
                    sourceReference: built.liveReference, sourceEnvironment: develop),
                record: RecordedOperations().recorder)
            #expect(promoted.liveReference["slug"]?.stringValue == slug)
            let requests = try await fake.requests()
            #expect(!requests.contains { $0.method == "POST" && $0.path == "/apps/crm-prod/builds" }, "build once, deploy many")
            let release = try #require(requests.first { $0.method == "POST" && $0.path == "/apps/crm-prod/releases" })
            #expect(release.body?["slug"]?.stringValue == slug)
        }
    }

    @Test func rollbackCreatesANewReleaseFromTheRecordedOne() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            let provider = try Self.provider(develop, fake)
            let first = try await provider.deploy(
                DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0")),
                record: RecordedOperations().recorder)
            let second = try await provider.deploy(
                DeploymentRequest(
                    app: "crm-api", environment: develop, deploymentID: 2, kind: .deploy, release: Self.release("1.0.1", commit: "def5678")),
                record: RecordedOperations().recorder)
            let back = try await provider.rollback(
                DeploymentRequest(
                    app: "crm-api", environment: develop, deploymentID: 3, kind: .rollback, release: Self.release("1.0.0"),
                    targetReference: first.liveReference),
                record: RecordedOperations().recorder)
            #expect(back.liveReference["version"]?.intValue ?? 0 > second.liveReference["version"]?.intValue ?? 0)
            #expect(back.liveReference["slug"]?.stringValue == first.liveReference["slug"]?.stringValue)
            let requests = try await fake.requests()
            let rollback = try #require(requests.last { $0.method == "POST" && $0.path == "/apps/crm-dev/releases" })
            #expect(rollback.body?["release"]?.stringValue == first.liveReference["release"]?.stringValue)
        }
    }

    @Test func aFailedBuildAndAFailedReleasePhaseAreDeploymentFailures() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            let provider = try Self.provider(develop, fake)
            let request = DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0"))
            try await fake.control(.object([("fail_next_build", .bool(true))]))
            await #expect { _ = try await provider.deploy(request, record: RecordedOperations().recorder) } throws: { error in
                (error as? ProviderError)?.kind == .failed && "\(error)".contains("build") && "\(error)".contains("failed")
            }
            try await fake.control(.object([("fail_next_release", .bool(true))]))
            await #expect { _ = try await provider.deploy(request, record: RecordedOperations().recorder) } throws: { error in
                (error as? ProviderError)?.kind == .failed && "\(error)".contains("release phase")
            }
        }
    }

    @Test func rateLimitsAreWaitedOutAndServerErrorsOnPollsRetried() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            try await fake.control(.object([("rate_limit_next", .int(2)), ("retry_after", .int(1))]))
            let started = ContinuousClock.now
            let outcome = try await Self.provider(develop, fake).deploy(
                DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0")),
                record: RecordedOperations().recorder)
            #expect(outcome.liveReference["release"] != nil)
            #expect(ContinuousClock.now - started >= .seconds(2), "Retry-After was honoured twice")
            // A 500 on a poll (a GET) is retried; a malformed answer to a poll is polled again.
            try await fake.control(.object([("error_next", .int(0))]))
            let provider = try Self.provider(develop, fake)
            let recorded = RecordedOperations()
            let build = try await provider.deploy(
                DeploymentRequest(
                    app: "crm-api", environment: develop, deploymentID: 2, kind: .deploy, release: Self.release("1.0.1", commit: "def5678")),
                record: recorded.recorder)
            #expect(build.liveReference["release"] != nil)
        }
    }

    @Test func aServerErrorOnCreateIsNotRepeated() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            try await fake.control(.object([("error_next", .int(1))]))
            await #expect {
                _ = try await Self.provider(develop, fake).deploy(
                    DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0")),
                    record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .unreachable && "\(error)".contains("internal_server_error")
            }
            let posts = try await fake.requests().filter { $0.method == "POST" }
            #expect(posts.count == 1, "a POST that may have acted is never sent twice")
        }
    }

    @Test func malformedAnswersToPollsArePolledAgain() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            let provider = try Self.provider(develop, fake)
            let recorded = RecordedOperations()
            let request = DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0"))
            // Start the build, then make the next two answers (polls) garbage.
            try await fake.control(.object([("pending_polls", .int(3))]))
            let task = Task { try await provider.deploy(request, record: recorded.recorder) }
            for _ in 0..<100 where recorded.values.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            try await fake.control(.object([("malformed_next", .int(2))]))
            let outcome = try await task.value
            #expect(outcome.liveReference["release"] != nil)
        }
    }

    @Test func badOrMissingCredentialsAreConfigurationErrorsThatNeverShowTheToken() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            let wrong = "hk-wrong-0123456789abcdef"
            let request = DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0"))
            await #expect {
                _ = try await Self.provider(develop, fake, key: wrong).deploy(request, record: RecordedOperations().recorder)
            } throws: { error in
                (error as? ProviderError)?.kind == .configuration && "\(error)".contains("HEROKU_API_KEY") && !"\(error)".contains(wrong)
            }
            let missing = HerokuProvider(
                configuration: try HerokuProvider.Configuration(reader: develop.providerSettings),
                environment: ["HEROKU_API_URL": fake.url])
            #expect { try missing.preflight() } throws: { error in
                (error as? ReleaseError)?.code == .usage && "\(error)".contains("HEROKU_API_KEY is not set")
            }
        }
    }

    @Test func aDockerImageIsReleasedThroughTheFormation() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            let image = "sha256:" + String(repeating: "ab", count: 32)
            let outcome = try await Self.provider(develop, fake).deploy(
                DeploymentRequest(
                    app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("2.0.0", artifact: image)),
                record: RecordedOperations().recorder)
            #expect(outcome.liveReference["release"] != nil)
            let patch = try #require(try await fake.requests().first { $0.method == "PATCH" })
            #expect(patch.path == "/apps/crm-dev/formation")
            #expect(patch.body?["updates"]?.arrayValue?.first?["docker_image"]?.stringValue == image)
        }
    }

    @Test func resumeFollowsTheRecordedBuildInsteadOfStartingAnother() async throws {
        try await FakeAPI.heroku { fake in
            let develop = try Self.environments(fake).environments[0]
            let provider = try Self.provider(develop, fake)
            let request = DeploymentRequest(app: "crm-api", environment: develop, deploymentID: 1, kind: .deploy, release: Self.release("1.0.0"))
            // The first run is stopped once it has recorded the build (whether or not it finished);
            // resuming must follow that build, never start another.
            try await fake.control(.object([("pending_polls", .int(4))]))
            let recorded = RecordedOperations()
            let task = Task { try await provider.deploy(request, record: recorded.recorder) }
            for _ in 0..<200 where recorded.values.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            task.cancel()
            _ = try? await task.value
            let build = try #require(recorded.values.first)
            let outcome = try await provider.resume(request, operation: build, record: RecordedOperations().recorder)
            #expect(outcome.liveReference["release"] != nil)
            let builds = try await fake.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/builds") }
            #expect(builds.count == 1)
        }
    }
}
