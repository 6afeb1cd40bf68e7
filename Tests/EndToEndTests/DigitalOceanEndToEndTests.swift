import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving the fake App Platform API: promotion by image, verification failure
/// with a validated rollback that is committed once healthy, and recover after a SIGKILL.
@Suite struct DigitalOceanEndToEndTests {
    private static func config(_ fake: FakeAPI) -> String {
        """
        app: crm-api
        environments:
          develop:
            provider: digitalocean
            digitalocean: {app: app-dev, component: api, poll_interval: 20ms, timeout: 30s}
            health: {url: "\(fake.url)/__health/app-dev", interval: 100ms, successes: 2, within: 2s}
          main:
            provider: digitalocean
            digitalocean: {app: app-main, component: api, poll_interval: 20ms, timeout: 30s}
            promote_from: develop
            health: {url: "\(fake.url)/__health/app-main", interval: 100ms, successes: 2, within: 2s}

        """
    }

    private static func credentials(_ fake: FakeAPI) -> [String: String] {
        ["DIGITALOCEAN_ACCESS_TOKEN": fake.apiKey, "DIGITALOCEAN_API_URL": fake.url]
    }

    @Test func aFailedVerificationRollsBackAndCommitsTheRollback() async throws {
        try await FakeAPI.digitalOcean { fake in
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                harness.environment.merge(Self.credentials(fake)) { $1 }
                #expect(try await harness.run("create", "1.0.0", "--artifact", "crm-api:1.0.0").status == 0)
                #expect(try await harness.run("deploy", "1.0.0", "develop").status == 0)
                let promote = try await harness.run("promote", "develop", "main")
                #expect(promote.status == 0, "\(promote)")
                #expect(try await harness.run("create", "1.0.1", "--artifact", "crm-api:1.0.1").status == 0)
                #expect(try await harness.run("deploy", "1.0.1", "develop").status == 0)
                try await fake.control(.object([("break_image_tag", .string("1.0.1"))]))
                let failed = try await harness.run("promote", "develop", "main")
                #expect(failed.status == 1, "\(failed)")
                #expect(failed.stderr.contains("main was rolled back to 1.0.0"))
                let posts = try await fake.requests().filter { $0.method == "POST" }.map(\.path)
                #expect(posts.contains("/v2/apps/app-main/rollback/validate"))
                #expect(posts.last == "/v2/apps/app-main/rollback/commit", "the verified rollback is committed, so main is not left pinned")
                let status = try await harness.run("status", "main", "--json")
                #expect(status.json?["environments"]?.arrayValue?.first?["live"]?["version"]?.stringValue == "1.0.0")
            }
        }
    }

    @Test func aRunKilledMidDeployIsFollowedByRecover() async throws {
        try await FakeAPI.digitalOcean { fake in
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                harness.environment.merge(Self.credentials(fake)) { $1 }
                #expect(try await harness.run("create", "1.0.0", "--artifact", "crm-api:1.0.0").status == 0)
                try await fake.control(.object([("steps", .int(30))]))
                let running = try harness.start(["deploy", "1.0.0", "develop"])
                let recorded = try await harness.waitForRecordedOperation("deployment")
                #expect(recorded, "the deployment id is written ahead")
                kill(running.pid, SIGKILL)
                _ = await running.finish()
                let recover = try await harness.run("recover", "develop")
                #expect(recover.status == 0, "\(recover)")
                let puts = try await fake.requests().filter { $0.method == "PUT" }
                #expect(puts.count == 1, "recover followed the recorded deployment instead of updating the app again")
            }
        }
    }

    @Test func aMissingTokenIsExitTwoBeforeAnythingIsRecorded() async throws {
        try await FakeAPI.digitalOcean { fake in
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                #expect(try await harness.run("create", "1.0.0", "--artifact", "crm-api:1.0.0").status == 0)
                let before = try await harness.snapshot()
                let missing = try await harness.run(["deploy", "1.0.0", "develop"], environment: ["DIGITALOCEAN_API_URL": fake.url])
                #expect(missing.status == 2)
                #expect(missing.stderr.contains("DIGITALOCEAN_ACCESS_TOKEN is not set"))
                #expect(try await harness.snapshot() == before)
            }
        }
    }

    @Test func aTokenDigitalOceanQuotesBackIsNeitherShownNorStoredNorSent() async throws {
        try await FakeAPI.digitalOcean { fake in
            try await Harness.with { harness in
                #expect(try await harness.run("create", "1.0.0", "--artifact", "crm-api:1.0.0").status == 0)
                try await fake.control(.object([("echo_credentials", .bool(true))]))
                let wrong = "dop_v1_\(UUID().uuidString)"
                let failed = try await harness.failingDeployLeavesNoSecret(
                    config: Self.config(fake), environment: ["DIGITALOCEAN_API_URL": fake.url, "DIGITALOCEAN_ACCESS_TOKEN": wrong],
                    secrets: ["DIGITALOCEAN_ACCESS_TOKEN": wrong])
                #expect(failed.status == 2, "\(failed)")
                #expect(failed.stderr.contains("Unable to authenticate you with Bearer ***"), "DigitalOcean's answer is shown, hidden: \(failed)")
            }
        }
    }
}
