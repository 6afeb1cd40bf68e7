import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The built binary driving the fake Heroku: the smoke run (built once on develop, the slug
/// promoted), a release phase that fails, and a key that is missing or wrong.
@Suite struct HerokuEndToEndTests {
    @Test func theSmokeRunBuildsOnceAndPromotesTheSlug() async throws {
        try await Harness.world(provider: .heroku) { world in
            try await world.smoke()
            let builds = try await world.fake.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/builds") }
            #expect(builds.map(\.path) == ["/apps/crm-dev/builds"], "main gets develop's slug, not a second build")
        }
    }

    @Test func aFailedReleasePhaseNeverWentLiveSoNothingIsRolledBack() async throws {
        try await Harness.world(provider: .heroku) { world in
            try await world.deployed("1.0.0")
            try await world.create("1.0.1")
            try await world.fake.control(.object([("fail_next_release", .bool(true))]))
            let failed = try await world.release("deploy", "1.0.1", "develop")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("release phase"), "\(failed)")
            #expect(failed.stderr.contains("develop still serves 1.0.0"), "\(failed)")
            #expect(try await world.live("develop") == "1.0.0")
        }
    }

    /// A wrong key is one Heroku quotes back: its answer is shown, the key never.
    @Test func aKeyMissingOrRejectedIsExitTwoAndNeitherShownNorStoredNorSent() async throws {
        try await Harness.world(provider: .heroku) { world in
            try await world.refusesCredentials(
                unset: ["HEROKU_API_KEY"], missingSays: "HEROKU_API_KEY is not set", wrong: ["HEROKU_API_KEY": "hk/\(UUID().uuidString)+wrong"],
                wrongSays: ["Heroku rejected HEROKU_API_KEY", "Invalid credentials provided: Bearer ***"])
        }
    }
}
