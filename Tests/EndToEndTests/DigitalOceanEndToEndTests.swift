import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving the fake App Platform API: the smoke run, a verification failure with
/// a validated rollback that is committed once healthy, recover after a SIGKILL, and a token that
/// is missing or wrong.
@Suite struct DigitalOceanEndToEndTests {
    @Test func theSmokeRun() async throws {
        try await Harness.world(provider: .digitalOcean) { world in
            try await world.smoke()
        }
    }

    @Test func aFailedVerificationRollsBackAndCommitsTheRollback() async throws {
        try await Harness.world(provider: .digitalOcean) { world in
            try await world.promoted("1.0.0")
            try await world.deployed("1.0.1")
            try await world.fake.control(.object([("break_image_tag", .string("1.0.1"))]))
            let failed = try await world.release("promote", "develop", "main")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("main was rolled back to 1.0.0"), "\(failed)")
            let posts = try await world.fake.requests().filter { $0.method == "POST" }.map(\.path)
            #expect(posts.contains("/v2/apps/app-main/rollback/validate"))
            #expect(posts.last == "/v2/apps/app-main/rollback/commit", "the verified rollback is committed, so main is not left pinned")
            #expect(try await world.live("main") == "1.0.0")
        }
    }

    @Test func aRunKilledMidDeployIsFollowedByRecover() async throws {
        try await Harness.world(provider: .digitalOcean) { world in
            try await world.fake.control(.object([("steps", .int(30))]))
            try await world.killedDeployIsRecovered(recording: "deployment")
            let puts = try await world.fake.requests().filter { $0.method == "PUT" }
            #expect(puts.count == 1, "recover followed the recorded deployment instead of updating the app again")
        }
    }

    /// A wrong token is one DigitalOcean quotes back: its answer is shown, the token never.
    @Test func aTokenMissingOrRejectedIsExitTwoAndNeitherShownNorStoredNorSent() async throws {
        try await Harness.world(provider: .digitalOcean) { world in
            try await world.refusesCredentials(
                unset: ["DIGITALOCEAN_ACCESS_TOKEN"], missingSays: "DIGITALOCEAN_ACCESS_TOKEN is not set",
                wrong: ["DIGITALOCEAN_ACCESS_TOKEN": "dop_v1_\(UUID().uuidString)"],
                wrongSays: ["DigitalOcean rejected DIGITALOCEAN_ACCESS_TOKEN", "Unable to authenticate you with Bearer ***"])
        }
    }
}
