import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving the fake Railway endpoint: deploys, promotion, the engine's rollback
/// when main's health fails, a crashed deployment, and a SIGKILL followed by recover.
@Suite struct RailwayEndToEndTests {
    private static func config(_ fake: FakeAPI) -> String {
        """
        app: crm-api
        environments:
          develop:
            provider: railway
            railway: {project: proj-1, environment: env-dev, service: svc-api, poll_interval: 20ms, timeout: 30s}
            health: {url: "\(fake.url)/__health/svc-api/env-dev", interval: 100ms, successes: 2, within: 2s}
          main:
            provider: railway
            railway: {project: proj-1, environment: env-main, service: svc-api, poll_interval: 20ms, timeout: 30s}
            promote_from: develop
            health: {url: "\(fake.url)/__health/svc-api/env-main", interval: 100ms, successes: 2, within: 2s}

        """
    }

    /// A fake Railway API for project proj-1 (with `controls` set too), and a harness whose
    /// release.yml and credentials point at it.
    private static func world(_ controls: [(String, JSONValue)] = [], _ body: (FakeAPI, Harness) async throws -> Void) async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))] + controls))
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                harness.environment.merge(Self.credentials(fake)) { $1 }
                try await body(fake, harness)
            }
        }
    }

    /// 1.0.0 live on develop, then a deploy of 1.0.1 whose Railway deployment CRASHED (exit 1),
    /// behind a service healthcheck or not; `check` looks at the outcome.
    private static func crashedDeploy(healthcheck: Bool, _ check: (FakeAPI, Harness, Harness.Result) async throws -> Void) async throws {
        try await world([("healthcheck", .bool(healthcheck))]) { fake, harness in
            #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234").status == 0)
            #expect(try await harness.run("deploy", "1.0.0", "develop").status == 0)
            #expect(try await harness.run("create", "1.0.1", "--commit", "def5678").status == 0)
            try await fake.control(.object([("fail_next_deploy", .string("CRASHED"))]))
            let failed = try await harness.run("deploy", "1.0.1", "develop")
            #expect(failed.status == 1, "\(failed)")
            try await check(fake, harness, failed)
        }
    }

    private static func credentials(_ fake: FakeAPI) -> [String: String] {
        ["RAILWAY_API_TOKEN": fake.apiKey, "RAILWAY_API_URL": fake.url + "/graphql/v2"]
    }

    @Test func promoteThenRollBackByItselfWhenMainIsUnhealthy() async throws {
        try await Self.world { fake, harness in
            #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234").status == 0)
            #expect(try await harness.run("deploy", "1.0.0", "develop").status == 0)
            let promote = try await harness.run("promote", "develop", "main")
            #expect(promote.status == 0, "\(promote)")
            #expect(try await harness.run("create", "1.0.1", "--commit", "def5678").status == 0)
            #expect(try await harness.run("deploy", "1.0.1", "develop").status == 0)
            try await fake.control(.object([("break_commit", .string("def5678"))]))
            let failed = try await harness.run("promote", "develop", "main")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("main was rolled back to 1.0.0"))
            let status = try await harness.run("status", "main", "--json")
            let main = try #require(status.json?["environments"]?.arrayValue?.first)
            #expect(main["live"]?["version"]?.stringValue == "1.0.0")
            #expect(main["health"]?.stringValue == "healthy")
            let requests = try await fake.state()["requests"]?.arrayValue ?? []
            #expect(requests.contains { $0["query"]?.stringValue?.contains("deploymentRollback") == true })
        }
    }

    /// Behind a service healthcheck a crashed deployment never takes the traffic: Railway still
    /// serves the old one, and the message says so from what Railway answers.
    @Test func aCrashBehindAHealthcheckFailsAndTheOldOneKeepsServing() async throws {
        try await Self.crashedDeploy(healthcheck: true) { _, harness, failed in
            #expect(failed.stderr.contains("CRASHED"))
            #expect(
                failed.stderr.contains("Nothing went live, so nothing was rolled back: develop still serves 1.0.0 (Railway deployment "),
                "\(failed)")
            #expect(failed.stderr.contains("is still SUCCESS)"), "\(failed)")
            let release = try await harness.run("list", "--json")
            #expect(
                release.json?["releases"]?.arrayValue?.first { $0["version"]?.stringValue == "1.0.1" }?["quarantined"] == .bool(false),
                "nothing went live, so nothing is quarantined: \(release)")
        }
    }

    /// Without a healthcheck a new deployment takes the traffic as it starts and Railway takes
    /// the old one down: one that then CRASHED leaves nothing serving. That is a release that went
    /// live and failed: quarantined, and rolled back through deploymentRollback.
    @Test func aCrashThatTookTheTrafficIsQuarantinedAndRolledBack() async throws {
        try await Self.crashedDeploy(healthcheck: false) { fake, harness, failed in
            #expect(!failed.stderr.contains("Nothing went live"), "\(failed)")
            #expect(failed.stderr.contains("No deployment of the service is SUCCESS any more"), "\(failed)")
            #expect(failed.stderr.contains("1.0.1 is quarantined; develop was rolled back to 1.0.0 and is healthy"), "\(failed)")
            let requests = try await fake.state()["requests"]?.arrayValue ?? []
            #expect(requests.contains { $0["query"]?.stringValue?.contains("deploymentRollback") == true })
            let status = try await harness.run("status", "develop", "--json")
            #expect(status.json?["environments"]?.arrayValue?.first?["live"]?["version"]?.stringValue == "1.0.0", "\(status)")
            let again = try await harness.run("deploy", "1.0.1", "develop")
            #expect(again.status == 3, "the crashed release is quarantined: \(again)")
        }
    }

    @Test func aRunKilledMidDeployIsFollowedByRecover() async throws {
        try await Self.world { fake, harness in
            #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234").status == 0)
            try await fake.control(.object([("steps", .int(40))]))
            let running = try harness.start(["deploy", "1.0.0", "develop"])
            let recorded = try await harness.waitForRecordedOperation("deployment")
            #expect(recorded, "the Railway deployment id is written ahead")
            kill(running.pid, SIGKILL)
            _ = await running.finish()
            try await fake.control(.object([("steps", .int(1))]))
            let recover = try await harness.run("recover", "develop")
            #expect(recover.status == 0, "\(recover)")
            let requests = try await fake.state()["requests"]?.arrayValue ?? []
            let deploys = requests.filter { $0["query"]?.stringValue?.contains("serviceInstanceDeployV2") == true }
            #expect(deploys.count == 1, "recover followed the recorded deployment")
        }
    }

    @Test func aRejectedTokenIsExitTwoAndNeverShown() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1"))]))
            try await Harness.with { harness in
                try harness.writeConfig(Self.config(fake))
                #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234").status == 0)
                let wrong = "rw-definitely-wrong-token"
                let rejected = try await harness.run(
                    ["deploy", "1.0.0", "develop"],
                    environment: ["RAILWAY_API_URL": fake.url + "/graphql/v2", "RAILWAY_API_TOKEN": wrong])
                #expect(rejected.status == 2, "\(rejected)")
                #expect(rejected.stderr.contains("RAILWAY_API_TOKEN"))
                #expect(!rejected.output.contains(wrong))
            }
        }
    }

    @Test func aTokenRailwayQuotesBackIsNeitherShownNorStoredNorSent() async throws {
        try await FakeAPI.railway { fake in
            try await fake.control(.object([("project_id", .string("proj-1")), ("echo_credentials", .bool(true))]))
            try await Harness.with { harness in
                #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234").status == 0)
                let wrong = "rw-\(UUID().uuidString)-wrong"
                let project = "rp-\(UUID().uuidString)-unused"
                let failed = try await harness.failingDeployLeavesNoSecret(
                    config: Self.config(fake),
                    environment: ["RAILWAY_API_URL": fake.url + "/graphql/v2", "RAILWAY_API_TOKEN": wrong, "RAILWAY_TOKEN": project],
                    secrets: ["RAILWAY_API_TOKEN": wrong, "RAILWAY_TOKEN": project])
                #expect(failed.status == 2, "\(failed)")
                #expect(failed.stderr.contains("Not Authorized: Bearer ***"), "Railway's answer is shown, hidden: \(failed)")
            }
        }
    }
}
