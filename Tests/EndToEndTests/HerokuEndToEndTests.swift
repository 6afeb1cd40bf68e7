import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving the fake Heroku: build once on develop, promote the slug, roll back
/// by itself when main's health fails, survive a SIGKILL mid-build.
@Suite struct HerokuEndToEndTests {
    private static func config(_ fake: FakeAPI) -> String {
        """
        app: crm-api
        environments:
          develop:
            provider: heroku
            heroku: {app: crm-dev, poll_interval: 50ms, timeout: 30s}
            health: {url: "\(fake.url)/__apps/crm-dev/health", interval: 100ms, successes: 2, within: 2s}
          main:
            provider: heroku
            heroku: {app: crm-prod, poll_interval: 50ms, timeout: 30s}
            promote_from: develop
            health: {url: "\(fake.url)/__apps/crm-prod/health", interval: 100ms, successes: 2, within: 2s}

        """
    }

    private static func credentials(_ fake: FakeAPI) -> [String: String] {
        ["HEROKU_API_KEY": fake.apiKey, "HEROKU_API_URL": fake.url]
    }

    @Test func buildOncePromoteTheSlugAndRollBackByItself() async throws {
        try await FakeAPI.heroku { fake in
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                harness.environment.merge(Self.credentials(fake)) { $1 }
                #expect(
                    try await harness.run("create", "1.0.0", "--commit", "abc1234", "--artifact", "https://example.com/crm-1.0.0.tar.gz").status == 0)
                let deploy = try await harness.run("deploy", "1.0.0", "develop")
                #expect(deploy.status == 0, "\(deploy)")
                let promote = try await harness.run("promote", "develop", "main")
                #expect(promote.status == 0, "\(promote)")
                let requests = try await fake.requests()
                #expect(requests.filter { $0.method == "POST" && $0.path.hasSuffix("/builds") }.map(\.path) == ["/apps/crm-dev/builds"])

                #expect(
                    try await harness.run("create", "1.0.1", "--commit", "def5678", "--artifact", "https://example.com/crm-1.0.1.tar.gz").status == 0)
                #expect(try await harness.run("deploy", "1.0.1", "develop").status == 0)
                try await fake.control(.object([("break_slug_of_source_version", .string("def5678"))]))
                let failed = try await harness.run("promote", "develop", "main")
                #expect(failed.status == 1, "\(failed)")
                #expect(failed.stderr.contains("main was rolled back to 1.0.0"))
                let status = try await harness.run("status", "main", "--json")
                let main = try #require(status.json?["environments"]?.arrayValue?.first)
                #expect(main["live"]?["version"]?.stringValue == "1.0.0")
                #expect(main["health"]?.stringValue == "healthy")
                // Heroku itself got a rollback release pointing at 1.0.0's release.
                let rollback = try #require(try await fake.requests().last { $0.method == "POST" && $0.path == "/apps/crm-prod/releases" })
                #expect(rollback.body?["release"]?.stringValue != nil)
                #expect(try await harness.run("audit", "verify").status == 0)
            }
        }
    }

    @Test func aFailedReleasePhaseNeverWentLiveSoNothingIsRolledBack() async throws {
        try await FakeAPI.heroku { fake in
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                harness.environment.merge(Self.credentials(fake)) { $1 }
                #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234", "--artifact", "https://example.com/a.tar.gz").status == 0)
                #expect(try await harness.run("deploy", "1.0.0", "develop").status == 0)
                #expect(try await harness.run("create", "1.0.1", "--commit", "def5678", "--artifact", "https://example.com/b.tar.gz").status == 0)
                try await fake.control(.object([("fail_next_release", .bool(true))]))
                let failed = try await harness.run("deploy", "1.0.1", "develop")
                #expect(failed.status == 1, "\(failed)")
                #expect(failed.stderr.contains("release phase"))
                #expect(failed.stderr.contains("develop still serves 1.0.0"))
                let status = try await harness.run("status", "develop", "--json")
                #expect(status.json?["environments"]?.arrayValue?.first?["live"]?["version"]?.stringValue == "1.0.0")
            }
        }
    }

    @Test func aRunKilledMidBuildIsResumedByRecoverWithoutASecondBuild() async throws {
        try await FakeAPI.heroku { fake in
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                harness.environment.merge(Self.credentials(fake)) { $1 }
                #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234", "--artifact", "https://example.com/a.tar.gz").status == 0)
                try await fake.control(.object([("build_pending_polls", .int(60))]))
                let running = try harness.start(["deploy", "1.0.0", "develop"])
                let recorded = try await harness.waitForRecordedOperation("build")
                #expect(recorded, "the build id is written ahead")
                kill(running.pid, SIGKILL)
                _ = await running.finish()
                let recover = try await harness.run("recover", "develop")
                #expect(recover.status == 0, "\(recover)")
                let builds = try await fake.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/builds") }
                #expect(builds.count == 1, "recover followed the recorded build instead of starting another")
                let status = try await harness.run("status", "develop", "--json")
                #expect(status.json?["environments"]?.arrayValue?.first?["live"]?["version"]?.stringValue == "1.0.0")
            }
        }
    }

    @Test func credentialsMissingOrRejectedAreExitTwoAndNeverShown() async throws {
        try await FakeAPI.heroku { fake in
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                #expect(try await harness.run("create", "1.0.0", "--artifact", "https://example.com/a.tar.gz").status == 0)
                let before = try await harness.snapshot()
                let missing = try await harness.run(["deploy", "1.0.0", "develop"], environment: ["HEROKU_API_URL": fake.url])
                #expect(missing.status == 2, "\(missing)")
                #expect(missing.stderr.contains("HEROKU_API_KEY is not set"))
                #expect(try await harness.snapshot() == before, "nothing is recorded before the token is known")
                let wrong = "hk-definitely-wrong-token-42"
                let rejected = try await harness.run(
                    ["deploy", "1.0.0", "develop"], environment: ["HEROKU_API_URL": fake.url, "HEROKU_API_KEY": wrong])
                #expect(rejected.status == 2, "\(rejected)")
                #expect(rejected.stderr.contains("Heroku rejected HEROKU_API_KEY"))
                #expect(!rejected.output.contains(wrong))
                let audit = try await harness.run("audit", "--format", "json")
                #expect(!audit.stdout.contains(wrong))
            }
        }
    }

    @Test func aTokenHerokuQuotesBackIsNeitherShownNorStoredNorSent() async throws {
        try await FakeAPI.heroku { fake in
            try await Harness.with { harness in
                #expect(try await harness.run("create", "1.0.0", "--artifact", "https://example.com/a.tar.gz").status == 0)
                try await fake.control(.object([("echo_credentials", .bool(true))]))
                let wrong = "hk/\(UUID().uuidString)+wrong"
                let failed = try await harness.failingDeployLeavesNoSecret(
                    config: Self.config(fake), environment: ["HEROKU_API_URL": fake.url, "HEROKU_API_KEY": wrong],
                    secrets: ["HEROKU_API_KEY": wrong])
                #expect(failed.status == 2, "\(failed)")
                #expect(failed.stderr.contains("Invalid credentials provided: Bearer ***"), "Heroku's answer is shown, hidden: \(failed)")
            }
        }
    }
}
