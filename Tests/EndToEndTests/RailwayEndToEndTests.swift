import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving the fake Railway endpoint: the smoke run, a crashed deployment behind
/// a healthcheck or without one, and a token that is missing or wrong.
@Suite struct RailwayEndToEndTests {
    /// 1.0.0 live on develop, then a deploy of 1.0.1 whose Railway deployment CRASHED (exit 1),
    /// behind a service healthcheck or not; `check` looks at the outcome.
    private static func crashedDeploy(
        healthcheck: Bool, _ check: (Harness.World<FakeAPI>, Harness.Result) async throws -> Void
    ) async throws {
        try await Harness.world(provider: .railway) { world in
            try await world.fake.control(.object([("healthcheck", .bool(healthcheck))]))
            try await world.deployed("1.0.0")
            try await world.create("1.0.1")
            try await world.fake.control(.object([("fail_next_deploy", .string("CRASHED"))]))
            let failed = try await world.release("deploy", "1.0.1", "develop")
            #expect(failed.status == 1, "\(failed)")
            try await check(world, failed)
        }
    }

    @Test func theSmokeRun() async throws {
        try await Harness.world(provider: .railway) { world in
            try await world.smoke()
        }
    }

    /// Behind a service healthcheck a crashed deployment never takes the traffic: Railway still
    /// serves the old one, and the message says so from what Railway answers.
    @Test func aCrashBehindAHealthcheckFailsAndTheOldOneKeepsServing() async throws {
        try await Self.crashedDeploy(healthcheck: true) { world, failed in
            #expect(failed.stderr.contains("CRASHED"))
            #expect(
                failed.stderr.contains("Nothing went live, so nothing was rolled back: develop still serves 1.0.0 (Railway deployment "),
                "\(failed)")
            #expect(failed.stderr.contains("is still SUCCESS)"), "\(failed)")
            let release = try await world.release("list", "--json")
            #expect(
                release.json?["releases"]?.arrayValue?.first { $0["version"]?.stringValue == "1.0.1" }?["quarantined"] == .bool(false),
                "nothing went live, so nothing is quarantined: \(release)")
        }
    }

    /// Without a healthcheck a new deployment takes the traffic as it starts and Railway takes
    /// the old one down: one that then CRASHED leaves nothing serving. That is a release that went
    /// live and failed: quarantined, and rolled back through deploymentRollback.
    @Test func aCrashThatTookTheTrafficIsQuarantinedAndRolledBack() async throws {
        try await Self.crashedDeploy(healthcheck: false) { world, failed in
            #expect(!failed.stderr.contains("Nothing went live"), "\(failed)")
            #expect(failed.stderr.contains("No deployment of the service is SUCCESS any more"), "\(failed)")
            #expect(failed.stderr.contains("1.0.1 is quarantined; develop was rolled back to 1.0.0 and is healthy"), "\(failed)")
            let requests = try await world.fake.state()["requests"]?.arrayValue ?? []
            #expect(requests.contains { $0["query"]?.stringValue?.contains("deploymentRollback") == true })
            #expect(try await world.live("develop") == "1.0.0")
            let again = try await world.release("deploy", "1.0.1", "develop")
            #expect(again.status == 3, "the crashed release is quarantined: \(again)")
        }
    }

    /// A wrong token is one Railway quotes back: its answer is shown, the token never, nor the
    /// project token set beside it.
    @Test func aTokenMissingOrRejectedIsExitTwoAndNeitherShownNorStoredNorSent() async throws {
        try await Harness.world(provider: .railway) { world in
            let wrong = ["RAILWAY_API_TOKEN": "rw-\(UUID().uuidString)-wrong", "RAILWAY_TOKEN": "rp-\(UUID().uuidString)-unused"]
            try await world.refusesCredentials(
                unset: ["RAILWAY_API_TOKEN"], missingSays: "Neither RAILWAY_API_TOKEN nor RAILWAY_TOKEN is set", wrong: wrong,
                wrongSays: ["RAILWAY_API_TOKEN", "Not Authorized: Bearer ***"])
        }
    }
}
