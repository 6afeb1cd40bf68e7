import Foundation
import ReleaseCore
import ReleaseEngine
import ReleaseStore
import Testing

/// `release deploy` in-process: gating, the provider's answers and verification, each branch
/// seen as a user sees it (the error and its exit code, status, history, audit) and in what the
/// engine asked the platform to do.
@Suite struct EngineOperationsTests {
    // MARK: begin

    @Test func aRefusingGateRecordsTheRejectionAndNothingElse() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0")
            let error = try await fixture.failingDeploy("1.0.0", fixture.main(gates: GatePolicy(checks: ["ci/test"])))
            #expect(error.code == .refused)
            #expect(error.message.hasPrefix("Deploy of 1.0.0 to main refused: "))
            #expect(error.message.contains("ci/test"))
            #expect(try await fixture.history().map(\.state) == [.rejected])
            #expect(try await fixture.auditActions() == ["deploy.rejected"])
            #expect(fixture.provider.calls.isEmpty, "a refused deployment never reaches the platform")
            #expect(try await fixture.status().live == nil)
        }
    }

    @Test func deployingWhatIsAlreadyLiveAndVerifiedChangesNothing() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0")
            try await fixture.deploy("1.0.0")
            let again = try await fixture.deploy("1.0.0")
            #expect(again.message.hasPrefix("1.0.0 is already live and verified on main (since "))
            #expect(again.message.hasSuffix("); nothing to do."))
            #expect(try await fixture.history().count == 1)
            #expect(try await fixture.auditActions() == ["deploy.started", "deploy.cutover", "deploy.live"])
            #expect(fixture.provider.asked == ["deploy 1.0.0"])
        }
    }

    @Test func aSecondRunFindsTheEnvironmentBusyAndRecordsNothing() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            fixture.provider.on(.deploy, "1.0.0", .hang(then: .succeed))
            let first = Task { try await fixture.deploy("1.0.0") }
            try await fixture.provider.waitForCalls(1)
            let id = try #require(try await fixture.history().first?.id)
            let error = try await fixture.failure { try await fixture.deploy("1.1.0", actor: "bob") }
            #expect(error.code == .busy)
            #expect(
                error.message == "Environment 'main' is busy: deploy of 1.0.0 by alice is deploying (deployment \(id)). "
                    + "Wait for it, or run `release recover main` if that run died.")
            fixture.provider.proceed()
            _ = try await first.value
            #expect(fixture.provider.asked == ["deploy 1.0.0"])
            #expect(try await fixture.history().map(\.version) == ["1.0.0"])
            #expect(try await fixture.status().live?.version == "1.0.0")
        }
    }

    // MARK: execute

    @Test func aVerifiedDeploymentGoesLive() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            let report = try await fixture.deploy("1.1.0")
            #expect(report.message == "1.1.0 is live on main (2 consecutive healthy answers from \(fixture.server.url())).")
            #expect(report.previousVersion == "1.0.0")
            let status = try await fixture.status()
            #expect(status.live?.version == "1.1.0")
            #expect(status.live?.verified == true)
            #expect(status.health == "healthy")
            #expect(status.inFlight == nil)
            #expect(try await fixture.history().map(\.state) == [.live, .superseded])
            #expect(try await fixture.auditActions().suffix(3) == ["deploy.started", "deploy.cutover", "deploy.live"])
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0"])
            #expect(
                fixture.provider.calls.last
                    == ScriptedProvider.Call(
                        method: .settle, version: "1.1.0", deploymentID: report.deploymentID,
                        healthy: true))
        }
    }

    /// A provider failure that took nothing live: the deployment fails, nothing is quarantined or
    /// rolled back, and the message says what serves as far as the platform showed.
    @Test(arguments: [
        (
            ScriptedProvider.Step.fail("The build failed.", serving: .unchanged(observed: "release v7 is still current")),
            "Nothing went live, so nothing was rolled back: main still serves 1.0.0 (release v7 is still current)."
        ),
        // Nothing recorded means the platform never started: unchanged, whatever the provider said.
        (
            .fail("The API answered 500.", serving: .unknown),
            "Nothing went live, so nothing was rolled back: main still serves 1.0.0 (the platform had not started an operation)."
        ),
        (
            .partlyRollOut("Two of four instances run it."),
            "Nothing was rolled back: release cannot tell what main serves now (it served 1.0.0 before): "
                + "check it with `release probe main` and on the platform."
        ),
    ])
    func aProviderFailureFailsTheDeploymentWithoutQuarantine(step: ScriptedProvider.Step, ending: String) async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            fixture.provider.on(.deploy, "1.1.0", step)
            let error = try await fixture.failingDeploy("1.1.0")
            #expect(error.code == .deploymentFailed)
            #expect(error.message.hasPrefix("Deploy of 1.1.0 to main failed: "))
            #expect(error.message.hasSuffix(ending))
            #expect(try await fixture.history().map(\.state) == [.failed, .live])
            #expect(try await fixture.release("1.1.0").isQuarantined == false)
            #expect(try await fixture.status().live?.version == "1.0.0")
            #expect(try await fixture.auditActions().last == "deploy.failed")
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0"])
        }
    }

    @Test func anOperationThePlatformMayStillRunIsLeftInFlightForRecover() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            fixture.provider.on(.deploy, "1.1.0", .unreachableAfterRecording("The platform stopped answering."))
            let error = try await fixture.failingDeploy("1.1.0")
            #expect(error.code == .unavailable)
            #expect(
                error.message == "The platform stopped answering. The operation may still be running on the platform; "
                    + "run `release recover main` once it can be reached.")
            let left = try #require(try await fixture.status().inFlight)
            #expect(left.state == .deploying)
            #expect(left.operation == .object([("operation", .string("op-\(left.id)"))]))
            #expect(try await fixture.release("1.1.0").isQuarantined == false)
            #expect(!(try await fixture.auditActions().contains("deploy.failed")))

            // The lease was given up, so recover takes over at once rather than after it expires.
            let reports = try await fixture.engine(actor: "bob").recover(environment: "main")
            #expect(reports.map(\.outcome) == [.settled])
            #expect(reports.first?.message.hasPrefix("1.1.0 is live on main") == true)
            #expect(
                fixture.provider.calls.contains(
                    ScriptedProvider.Call(
                        method: .resume, version: "1.1.0", deploymentID: left.id,
                        operation: left.operation)))
            #expect(try await fixture.status().live?.version == "1.1.0")
            #expect(try await fixture.auditActions().suffix(4) == ["deploy.started", "recover.took_over", "deploy.cutover", "deploy.live"])
        }
    }

    // MARK: lease

    /// Whatever the platform answers once another run has taken the deployment over, this run
    /// records nothing more about it, and leaves the lease to the run that holds it.
    @Test(arguments: [
        ScriptedProvider.Step.succeed,
        .fail("The build failed.", serving: .unchanged(observed: "release v7 is still current")),
        .unreachableAfterRecording("The platform stopped answering."),
    ])
    func aRunWhoseLeaseAnotherRunTookStopsWithoutRecordingMore(answer: ScriptedProvider.Step) async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            fixture.provider.on(.deploy, "1.1.0", .hang(then: answer))
            let run = Task { try await fixture.failingDeploy("1.1.0") }
            try await fixture.provider.waitForCalls(3)
            let id = try #require(try await fixture.status().inFlight?.id)
            try await fixture.database { db in try db.takeLease(deployment: id, owner: "elsewhere:4242:takeover", seconds: 60) }
            fixture.provider.proceed()
            let error = try await run.value
            #expect(error.code == .busy)
            #expect(
                error.message == "Another run took over deployment \(id) on main (this run's lease expired); "
                    + "stopping without recording anything more. See `release status main`.")
            let left = try #require(try await fixture.status().inFlight)
            #expect(left.state == .deploying)
            #expect(left.leaseOwner == "elsewhere:4242:takeover")
            #expect(try await fixture.status().live?.version == "1.0.0")
            #expect(try await fixture.auditActions().last == "deploy.started")
        }
    }
}
