import Foundation
import ReleaseCore
import ReleaseEngine
import ReleaseTestSupport
import Testing

/// Crash anywhere: the built binary is stopped with SIGKILL at every write-ahead step of deploy,
/// promote, rollback and the automatic rollback (RELEASE_FAULT_POINT), and at random instants;
/// after each, `release recover` must leave exactly one live release per environment that matches
/// what the platform (the demo app) serves, nothing in flight, and an audit trail that verifies.
@Suite struct CrashTests {
    /// The operations crashed, each on a fresh version so earlier rounds cannot make it a no-op.
    enum Scenario: String, CaseIterable {
        case deploy, promote, promoteUnhealthy = "promote-unhealthy", rollback
    }

    static let points: [String] = FaultPoint.allCases.map(\.rawValue)
        + FaultPoint.allCases.map { "\($0.rawValue)@2" }

    @Test(arguments: Scenario.allCases)
    func everyFaultPointIsRecovered(_ scenario: Scenario) async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            try await Self.prepare(harness, version: "1.0.0")
            try await Self.must(harness, ["promote", "develop", "main"])
            var reached: [String] = []
            for (round, point) in Self.points.enumerated() {
                let version = "2.\(round).0"
                let command = try await Self.stage(scenario, harness, version: version)
                let run = try await harness.run(command, environment: ["RELEASE_FAULT_POINT": point])
                guard run.status == SIGKILL else {
                    // The point is not on this operation's path (a rollback has no automatic
                    // rollback; @2 needs a second pass): the run must have ended normally.
                    #expect([0, 1].contains(run.status), "\(scenario) at \(point): \(run)")
                    try await Self.expectSettled(harness, "\(scenario) without reaching \(point)")
                    continue
                }
                reached.append(point)
                let recover = try await harness.run("recover")
                #expect([0, 1].contains(recover.status), "recover after \(scenario) killed at \(point): \(recover)")
                try await Self.expectSettled(harness, "\(scenario) killed at \(point)")
            }
            let report = "crash points tried for \(scenario.rawValue): \(reached.count) (\(reached.joined(separator: ", ")))"
            print(report)
            try? (report + "\n").write(toFile: ProjectPaths.root + "/.build/crash-points-\(scenario.rawValue).txt", atomically: true, encoding: .utf8)
            #expect(reached.count >= (scenario == .promoteUnhealthy ? 9 : 6), "\(report)")
        }
    }

    @Test func randomKillsDuringPromotionsAreRecovered() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            harness.environment["DEMO_DEPLOY_SECONDS"] = "0.2"
            try await Self.prepare(harness, version: "1.0.0")
            try await Self.must(harness, ["promote", "develop", "main"])
            var generator = SystemRandomNumberGenerator()
            var killed = 0
            for round in 0..<12 {
                let version = "3.\(round).0"
                let broken = round % 3 == 2
                try await Self.prepare(harness, version: version, health: broken ? "broken-on=main" : "ok")
                let running = try harness.start(["promote", "develop", "main"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...1500, using: &generator)))
                if kill(running.pid, SIGKILL) == 0 { killed += 1 }
                _ = await running.finish()
                let recover = try await harness.run("recover")
                #expect([0, 1].contains(recover.status), "round \(round): \(recover)")
                try await Self.expectSettled(harness, "random kill in round \(round)")
            }
            print("random SIGKILLs during promotions: \(killed) of 12 runs killed")
        }
    }

    @Test func recoverNeverRunsADeployCommandBesideTheOneAKilledRunLeft() async throws {
        try await Harness.with { harness in
            // The deploy command notes any second copy running beside it.
            let marks = harness.directory + "/marks"
            let gate = harness.directory + "/gate"
            let deploy = "mkdir \(marks)/running 2>/dev/null || echo overlap >> \(marks)/violations; while [ -e \(gate) ]; do sleep 0.05; done; rmdir \(marks)/running; echo done >> \(marks)/runs"
            FileManager.default.createFile(atPath: gate, contents: Data())
            try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
            try harness.writeConfig("""
                app: crm-api
                environments:
                  develop:
                    provider: command
                    command: {deploy: "\(deploy)", timeout: 1m}

                """)
            try await Self.must(harness, ["create", "1.0.0"])
            let running = try harness.start(["deploy", "1.0.0", "develop"])
            #expect(try await harness.waitForRecordedOperation("pid"), "the command's pid is written ahead")
            kill(running.pid, SIGKILL)
            _ = await running.finish()
            // The killed run's command is still held at the gate: recover must wait for it.
            let recovering = try harness.start(["recover", "develop"])
            try await Task.sleep(for: .seconds(1))
            try FileManager.default.removeItem(atPath: gate)
            let recover = await recovering.finish()
            #expect(recover.status == 0, "\(recover)")
            #expect(recover.stderr.contains("still running; waiting for it to finish"), "\(recover)")
            #expect(!FileManager.default.fileExists(atPath: marks + "/violations"), "two copies of the deploy command ran at once")
            let runs = (try? String(contentsOfFile: marks + "/runs", encoding: .utf8)) ?? ""
            #expect(runs.split(separator: "\n").count == 2, "the left-over run finished, then recover ran it again: \(runs)")
        }
    }

    /// `release promote … | head -1`, or a CI log collector that died: whoever reads the output
    /// goes away while the command runs. An operation must still finish, and its exit code still
    /// say how it ended; a command that only prints stops at once, as `release audit | head` should.
    @Test func aReaderThatGoesAwayNeverStopsAnOperation() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            try await Self.prepare(harness, version: "1.0.0")
            try await Self.must(harness, ["create", "2.0.0", "--artifact", try harness.artifact("2.0.0")])
            var deploy = try await Self.runUnread(harness, ["deploy", "2.0.0", "develop"])
            #expect(deploy == .exited(0), "deploy with nobody reading its output: \(deploy)")
            let promote = try await Self.runUnread(harness, ["promote", "develop", "main"])
            #expect(promote == .exited(0), "promote with nobody reading its output: \(promote)")
            try await Self.expectSettled(harness, "a promotion whose reader went away")
            #expect(try await harness.served("main") == "2.0.0")

            try await Self.must(harness, ["create", "3.0.0", "--artifact", try harness.artifact("3.0.0", health: "broken-on=main")])
            deploy = try await Self.runUnread(harness, ["deploy", "3.0.0", "develop"])
            #expect(deploy == .exited(0), "\(deploy)")
            let failing = try await Self.runUnread(harness, ["promote", "develop", "main"])
            #expect(failing == .exited(1), "a failed promotion still says so, and rolls back: \(failing)")
            try await Self.expectSettled(harness, "a rolled-back promotion whose reader went away")
            #expect(try await harness.served("main") == "2.0.0")

            let audit = try await Self.runUnread(harness, ["audit", "--format", "csv"])
            #expect(audit == .signalled(SIGPIPE), "a command that only prints stops when its reader goes away: \(audit)")
        }
    }

    /// Ctrl-C, a cancelled CI job (SIGTERM) or a closed terminal (SIGHUP) while a deployment runs:
    /// the run still ends by that signal, but first names the deployment it leaves in flight and
    /// the command that settles it. Under `nohup`, SIGHUP is ignored as the user asked.
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func anInterruptedRunSaysWhatItLeavesInFlightAndHowToSettleIt(_ signal: Int32) async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            try await Self.must(harness, ["create", "1.0.0", "--artifact", try harness.artifact("1.0.0")])
            let gate = harness.holdDeploys()
            let running = try harness.start(["deploy", "1.0.0", "develop"], environment: ["DEMO_DEPLOY_GATE": gate])
            let id = try await harness.waitUntilInFlight("develop")["id"]?.intValue ?? -1
            kill(running.pid, signal)
            let interrupted = await running.finish()
            harness.releaseDeploys(gate)
            #expect(running.process.terminationReason == .uncaughtSignal && interrupted.status == signal, "\(interrupted)")
            #expect(interrupted.stderr.contains("interrupted during deployment \(id) (deploy of 1.0.0 to develop), which stays in flight. Run `release recover develop` to settle it."),
                    "\(interrupted)")
            let recover = try await harness.run("recover", "develop")
            #expect(recover.status == 0, "\(recover)")
            let develop = try await harness.run("status", "develop", "--json").json?["environments"]?.arrayValue?.first
            #expect(develop?["in_flight"] == .null && develop?["live"]?["version"]?.stringValue == "1.0.0", "\(String(describing: develop))")
            #expect(try await harness.served("develop") == "1.0.0")
            #expect(try await harness.run("audit", "verify").status == 0)

            guard signal == SIGHUP else { return }
            try await Self.must(harness, ["create", "1.0.1", "--artifact", try harness.artifact("1.0.1")])
            let held = harness.holdDeploys()
            let environment = harness.environment.merging(["DEMO_DEPLOY_GATE": held]) { $1 }
            let immune = try RunningCommand.launch("/usr/bin/nohup", [ProjectPaths.binary, "deploy", "1.0.1", "develop"],
                                                   environment: environment, directory: harness.directory)
            try await harness.waitUntilInFlight("develop")
            kill(immune.pid, SIGHUP)
            try await Task.sleep(for: .milliseconds(200))
            harness.releaseDeploys(held)
            let finished = await immune.finish()
            #expect(finished.status == 0 && immune.process.terminationReason == .exit, "under nohup: \(finished)")
            #expect(try await harness.served("develop") == "1.0.1")
        }
    }

    enum Ending: Equatable { case exited(Int32), signalled(Int32) }

    /// Runs `release ARGS…` with standard output and error on a pipe whose reader has already gone.
    static func runUnread(_ harness: Harness, _ arguments: [String]) async throws -> Ending {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProjectPaths.binary)
        process.arguments = arguments
        process.environment = harness.environment
        process.currentDirectoryURL = URL(fileURLWithPath: harness.directory)
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                process.waitUntilExit()
                let status = process.terminationStatus
                continuation.resume(returning: process.terminationReason == .exit ? .exited(status) : .signalled(status))
            }
        }
    }

    /// Creates `version` and deploys it to develop.
    static func prepare(_ harness: Harness, version: String, health: String = "ok") async throws {
        try await must(harness, ["create", version, "--artifact", try harness.artifact(version, health: health)])
        try await must(harness, ["deploy", version, "develop"])
    }

    /// Sets the scene for one round and returns the command to crash.
    static func stage(_ scenario: Scenario, _ harness: Harness, version: String) async throws -> [String] {
        switch scenario {
        case .deploy:
            try await must(harness, ["create", version, "--artifact", try harness.artifact(version)])
            return ["deploy", version, "develop"]
        case .promote:
            try await prepare(harness, version: version)
            return ["promote", "develop", "main"]
        case .promoteUnhealthy:
            try await prepare(harness, version: version, health: "broken-on=main")
            return ["promote", "develop", "main"]
        case .rollback:
            try await prepare(harness, version: version)
            try await must(harness, ["promote", "develop", "main"])
            return ["rollback", "main", "--reason", "crash test"]
        }
    }

    static func must(_ harness: Harness, _ arguments: [String]) async throws {
        let result = try await harness.run(arguments)
        guard result.status == 0 else { throw TestSupportError("\(arguments) failed: \(result)") }
    }

    /// One live release per environment, the one the platform serves; nothing in flight; the
    /// audit trail verifies.
    static func expectSettled(_ harness: Harness, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let status = try await harness.run("status", "--json")
        let environments = status.json?["environments"]?.arrayValue ?? []
        #expect(environments.count == 2, "\(what): \(status)", sourceLocation: sourceLocation)
        for environment in environments {
            let name = environment["name"]?.stringValue ?? "?"
            #expect(environment["in_flight"] == .null, "\(what): \(name) still has \(String(describing: environment["in_flight"]))",
                    sourceLocation: sourceLocation)
            let live = environment["live"]?["version"]?.stringValue
            let served = try await harness.served(name)
            #expect(live != nil && live == served, "\(what): \(name) records \(live ?? "nothing") live but serves \(served ?? "nothing")",
                    sourceLocation: sourceLocation)
        }
        let history = try await harness.run("history", "--json", "--limit", "1000")
        let stuck = (history.json?["deployments"]?.arrayValue ?? []).filter {
            ["pending", "gating", "deploying", "verifying"].contains($0["state"]?.stringValue ?? "")
        }
        #expect(stuck.isEmpty, "\(what): deployments left in flight: \(stuck)", sourceLocation: sourceLocation)
        let verify = try await harness.run("audit", "verify")
        #expect(verify.status == 0, "\(what): \(verify)", sourceLocation: sourceLocation)
    }
}
