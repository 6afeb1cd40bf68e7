import Foundation
import ReleaseCore
import ReleaseEngine
import ReleaseStore
import Testing

/// `release recover`: what a dead run left in flight is finished through the provider or
/// cancelled; what a living run drives is left alone.
@Suite struct EngineRecoverTests {
    @Test func aDeadRunsDeploymentIsResumedFromItsRecordedOperation() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0", "1.1.0")
            try await fixture.deploy("1.0.0")
            fixture.provider.on(.deploy, "1.1.0", .unreachableAfterRecording("The platform stopped answering."))
            _ = try await fixture.failingDeploy("1.1.0")
            let left = try #require(try await fixture.status().inFlight)
            // As if the run had been killed while it waited: its lease has long to run, its process is gone.
            let owner = try deadOwner()
            try await fixture.database { db in try db.takeLease(deployment: left.id, owner: owner, seconds: 3600) }

            let reports = try await fixture.engine(actor: "bob").recover(environment: "main")
            #expect(reports.map(\.outcome) == [.settled])
            #expect(reports.first?.message == "1.1.0 is live on main (2 consecutive healthy answers from \(fixture.server.url())).")
            let resumed = try #require(fixture.provider.calls.first { $0.method == .resume })
            #expect(resumed.version == "1.1.0")
            #expect(resumed.operation == .object([("operation", .string("op-\(left.id)"))]), "the operation the dead run recorded")
            #expect(fixture.provider.asked == ["deploy 1.0.0", "deploy 1.1.0", "resume 1.1.0"])
            #expect(try await fixture.status().live?.version == "1.1.0")
            #expect(try await fixture.history().map(\.state) == [.live, .superseded])
            #expect(try await fixture.auditActions().contains("recover.took_over"))
        }
    }

    @Test(arguments: [DeploymentState.pending, .gating])
    func aDeploymentThatDiedBeforeTheProviderIsCancelled(state: DeploymentState) async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0")
            try await fixture.database { db in
                let app = try db.ensureApp(named: "crm-api")
                let main = try db.ensureEnvironment(app: app, named: "main")
                guard let release = try db.release(app: app, version: "1.0.0") else { throw ScriptError("no 1.0.0") }
                let id = try db.insertDeployment(
                    app: app, environment: main, environmentName: "main", release: release.id, kind: .deploy,
                    by: "alice", reason: nil)
                if state == .gating { try db.transition(deployment: id, to: .gating) }
            }
            let reports = try await fixture.engine(actor: "bob").recover(environment: "main")
            #expect(reports.map(\.message) == ["cancelled: it died before reaching the provider"])
            #expect(reports.map(\.outcome) == [.settled])
            #expect(try await fixture.history().map(\.state) == [.cancelled])
            #expect(try await fixture.status().inFlight == nil)
            #expect(try await fixture.auditActions() == ["recover.took_over", "deploy.cancelled"])
            #expect(fixture.provider.calls.isEmpty)
        }
    }

    @Test func aDeploymentWhoseRunHoldsItsLeaseIsLeftAlone() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.create("1.0.0")
            fixture.provider.on(.deploy, "1.0.0", .hang(then: .succeed))
            let run = Task { try await fixture.deploy("1.0.0") }
            try await fixture.provider.waitForCalls(1)

            let reports = try await fixture.engine(actor: "bob").recover(environment: "main")
            #expect(reports.map(\.outcome) == [.stillRunning])
            #expect(reports.first?.message.hasPrefix("still running under ") == true)
            #expect(try await fixture.status().inFlight?.state == .deploying)
            #expect(!(try await fixture.auditActions().contains("recover.took_over")))

            fixture.provider.proceed()
            _ = try await run.value
            #expect(fixture.provider.asked == ["deploy 1.0.0"], "recover never asked the platform to resume it")
            #expect(try await fixture.status().live?.version == "1.0.0")
        }
    }

    /// A lease owner on this host whose process has exited.
    private func deadOwner() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return "\(ProcessInfo.processInfo.hostName):\(process.processIdentifier):gone"
    }
}
