import Foundation
import ReleaseCore
import ReleaseEngine
import ReleaseStore
import Testing

/// The one rule for a release found bad where it serves, after its own verification or on the
/// platform: quarantine it, roll back to the last verified release without gates, and never roll
/// back a rollback.
@Suite struct FailurePolicyTests {
    @Test func aReleaseThatFailsVerificationIsQuarantinedAndRolledBack() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            fixture.provider.breaks("1.1.0")
            let error = try await fixture.failingDeploy("1.1.0")
            #expect(error.code == .deploymentFailed)
            #expect(error.message.hasPrefix("Verification of 1.1.0 on main failed (not healthy within "))
            #expect(error.message.contains("HTTP 503 (expected 200): 1.1.0 is broken"))
            #expect(error.message.hasSuffix("1.1.0 is quarantined; main was rolled back to 1.0.0 and is healthy."))
            try await expectRolledBack(fixture, from: "1.1.0", finding: "deploy.verification_failed")
            #expect(fixture.provider.calls.contains { $0.method == .settle && $0.version == "1.1.0" && $0.healthy == false })
        }
    }

    @Test func aReleaseThatFailsOnThePlatformAfterGoingLiveIsQuarantinedAndRolledBack() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            fixture.provider.on(.deploy, "1.1.0", .fail("The rollout ended FAILED.", serving: .failedRelease))
            let error = try await fixture.failingDeploy("1.1.0")
            #expect(error.code == .deploymentFailed)
            #expect(
                error.message == "1.1.0 failed on main after the platform put it live (The rollout ended FAILED.). "
                    + "1.1.0 is quarantined; main was rolled back to 1.0.0 and is healthy.")
            try await expectRolledBack(fixture, from: "1.1.0", finding: "deploy.verification_failed")
        }
    }

    @Test func withOnFailureStopTheFailedReleaseIsQuarantinedAndKeepsServing() async throws {
        try await EngineFixture.with { fixture in
            let main = fixture.main(onFailure: .stop)
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0", main)
            fixture.provider.breaks("1.1.0")
            let error = try await fixture.failingDeploy("1.1.0", main)
            #expect(error.code == .deploymentFailed)
            #expect(error.message.hasPrefix("Verification of 1.1.0 on main failed ("))
            #expect(
                error.message.hasSuffix(
                    "1.1.0 is quarantined and still serving on main: on_failure is stop. "
                        + "Run `release rollback main --reason …`, or deploy a fixed release: "
                        + "`release create VERSION`, then `release deploy VERSION main`."))
            #expect(try await fixture.release("1.1.0").isQuarantined)
            let status = try await fixture.status()
            #expect(status.live?.version == "1.1.0")
            #expect(status.health == "unhealthy")
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0"])
            #expect(try await fixture.auditActions().last == "deploy.verification_failed")
        }
    }

    @Test func theFirstReleaseToFailHasNothingToRollBackTo() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0")
            fixture.provider.breaks("1.0.0")
            let error = try await fixture.failingDeploy("1.0.0")
            #expect(error.code == .deploymentFailed)
            #expect(
                error.message.hasSuffix(
                    "1.0.0 is quarantined and still serving on main: there is no earlier verified release to roll back to. "
                        + "Deploy a fixed release: `release create VERSION`, then `release deploy VERSION main`."))
            #expect(try await fixture.release("1.0.0").isQuarantined)
            #expect(try await fixture.history().map(\.state) == [.failed])
            #expect(fixture.provider.asked == ["deploy 1.0.0"])
        }
    }

    @Test func aFailedAutomaticRollbackLeavesTheEnvironmentDegraded() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            fixture.provider.breaks("1.1.0")
            fixture.provider.on(.rollback, "1.0.0", .fail("The platform refused the rollback.", serving: .unchanged(observed: "1.1.0 is current")))
            let error = try await fixture.failingDeploy("1.1.0")
            #expect(error.code == .deploymentFailed)
            #expect(error.message.hasPrefix("Verification of 1.1.0 on main failed ("))
            #expect(
                error.message.hasSuffix(
                    "), and the automatic rollback to 1.0.0 failed too: Rollback of main to 1.0.0 failed: "
                        + "The platform refused the rollback. Main still serves 1.1.0 (1.1.0 is current). main is degraded and needs a human."))
            #expect(try await fixture.release("1.1.0").isQuarantined)
            let status = try await fixture.status()
            #expect(status.health == "degraded")
            #expect(status.live?.version == "1.1.0")
            #expect(try await fixture.history().map(\.kind) == [.rollback, .deploy, .deploy])
            #expect(try await fixture.history().map(\.state) == [.failed, .failed, .superseded])
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0", "rollback 1.0.0"])
        }
    }

    @Test func aRollbackThatFailsVerificationIsNeverRolledBack() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            try await fixture.deploy("1.1.0")
            fixture.provider.breaks("1.0.0")
            let error = try await fixture.failure {
                try await fixture.engine().run(OperationPlan(kind: .rollback, environment: fixture.main(), reason: "1.1.0 is slow"))
            }
            #expect(error.code == .deploymentFailed)
            #expect(error.message.hasPrefix("Rollback of main to 1.0.0 failed verification ("))
            #expect(
                error.message.hasSuffix(
                    "A rollback is never rolled back: main is degraded and needs a human: check the platform, then deploy a known-good release."))
            #expect(try await fixture.release("1.0.0").isQuarantined == false, "a rollback's target is not what was found bad")
            #expect(try await fixture.status().health == "degraded")
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0", "rollback 1.0.0"])
            #expect(try await fixture.auditActions().last == "rollback.verification_failed")
        }
    }

    /// What a user sees after `bad` was quarantined and main rolled back to 1.0.0 by itself.
    private func expectRolledBack(_ fixture: EngineFixture, from bad: String, finding: String) async throws {
        #expect(try await fixture.release(bad).isQuarantined)
        let status = try await fixture.status()
        #expect(status.live?.version == "1.0.0")
        #expect(status.live?.verified == true)
        #expect(status.health == "healthy")
        let history = try await fixture.history()
        #expect(history.map(\.kind) == [.rollback, .deploy, .deploy])
        #expect(history.map(\.state) == [.live, .rolledBack, .superseded])
        #expect(history.first?.rollbackOf == history.dropFirst().first?.id)
        #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy \(bad)", "rollback 1.0.0"])
        let rollback = try #require(fixture.provider.calls.first { $0.method == .rollback })
        #expect(rollback.targetReference == .object([("release", .string("1.0.0"))]), "the rollback goes back to what 1.0.0 was")
        #expect(try await fixture.auditActions().suffix(4) == [finding, "rollback.started", "rollback.cutover", "rollback.live"])
    }
}
