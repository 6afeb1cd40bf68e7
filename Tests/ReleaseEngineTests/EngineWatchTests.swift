import Foundation
import ReleaseCore
import ReleaseEngine
import ReleaseStore
import Testing

/// `release watch`: a live release whose health probe turns bad meets the same failure policy as
/// a failed verification, and the watch never acts on what it no longer watches.
@Suite struct EngineWatchTests {
    /// The automatic rollback passes the gates of every rollback: run by someone `allowed:` leaves
    /// out, the watch quarantines the release and says who may roll back; run by someone allowed,
    /// it rolls back, the same rule as after a failed verification.
    @Test func aReleaseThatTurnsBadIsQuarantinedAndRolledBackThroughTheRollbacksGates() async throws {
        try await EngineFixture.with { fixture in
            // Only bob may deploy or roll back main.
            let main = fixture.main(gates: GatePolicy(allowed: ["bob"]))
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0", main, actor: "bob")
            try await fixture.deploy("1.1.0", main, actor: "bob")
            let alice = try await fixture.engine(actor: "alice", main)
            let byHand = try await alice.dryRun(OperationPlan(kind: .rollback, environment: main, reason: "slow"))
            #expect(byHand.gates.contains { $0.name == "allowed" && !$0.passed }, "alice may not roll main back herself")

            fixture.provider.breaks("1.1.0")
            let refused = try await fixture.failure { try await alice.watch(main, for: .seconds(30)) }
            #expect(refused.code == .deploymentFailed)
            #expect(refused.message.hasPrefix("1.1.0 failed its health probe on main during the watch (not healthy within "))
            #expect(
                refused.message.hasSuffix(
                    "1.1.0 is quarantined and still serving on main: the automatic rollback could not start: "
                        + "its gates refused it (allowed: alice may not operate on main; allowed: bob); someone they allow can run "
                        + "`release rollback main --reason …`."), "\(refused.message)")
            let bad = try await fixture.release("1.1.0")
            #expect(bad.quarantineReason?.hasPrefix("failed its health probe on main during a watch: ") == true)
            #expect(try await fixture.status().live?.version == "1.1.0")
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0"])

            let bob = try await fixture.engine(actor: "bob", main)
            let error = try await fixture.failure { try await bob.watch(main, for: .seconds(30)) }
            #expect(error.code == .deploymentFailed)
            #expect(error.message.hasSuffix("1.1.0 is quarantined; main was rolled back to 1.0.0 and is healthy."), "\(error.message)")
            let status = try await fixture.status()
            #expect(status.live?.version == "1.0.0")
            #expect(status.live?.verified == true)
            #expect(try await fixture.history().map(\.state) == [.live, .superseded, .superseded])
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0", "rollback 1.0.0"])
            #expect(
                try await fixture.auditActions().suffix(5) == [
                    "watch.failed", "watch.failed", "rollback.started", "rollback.cutover", "rollback.live",
                ])
        }
    }

    @Test func aFailureOfWhatReplacedTheWatchedReleaseIsNotActedOn() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0", "1.2.0")
            try await fixture.deploy("1.0.0")
            try await fixture.deploy("1.1.0")
            fixture.provider.breaks("1.1.0")
            fixture.provider.breaks("1.2.0")
            let before = fixture.server.requestCount
            let watch = Task { try await fixture.engine().watch(fixture.main(), for: .seconds(30)) }
            // A probe failed and the verification that would confirm it is under way: bob's deploy,
            // which skips verification, replaces 1.1.0 meanwhile.
            try await waitUntil("the watch verifies a failed probe") { fixture.server.requestCount >= before + 2 }
            try await fixture.deploy("1.2.0", fixture.main(health: false), actor: "bob")
            let message = try await watch.value
            #expect(message == "1.1.0 is no longer live on main; the failed probe concerned what replaced it, which has its own verification.")
            #expect(try await fixture.release("1.1.0").isQuarantined == false)
            #expect(try await fixture.status().live?.version == "1.2.0")
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0", "deploy 1.2.0"])
            #expect(!(try await fixture.auditActions().contains("watch.failed")))
        }
    }
}
