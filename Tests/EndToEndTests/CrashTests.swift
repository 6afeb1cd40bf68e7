import Foundation
import Postgres
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
        case deploy, promote
        case promoteUnhealthy = "promote-unhealthy"
        case rollback

        /// How a run ends unhurt: a promotion whose verification fails exits 1, after rolling back.
        var status: Int32 { self == .promoteUnhealthy ? 1 : 0 }

        /// The fault points this operation passes, in order: an unhealthy promotion passes those
        /// of its automatic rollback a second time (but not after-begin, which only starts a run).
        var pointsOnPath: [String] {
            let once: [FaultPoint] = self == .promoteUnhealthy ? FaultPoint.allCases : FaultPoint.allCases.filter { $0 != .afterRollbackStarted }
            let twice: [FaultPoint] = self == .promoteUnhealthy ? [.afterRecord, .afterProvider, .afterCutover, .afterVerification] : []
            let path = once.map(\.rawValue) + twice.map { "\($0.rawValue)@2" }
            return CrashTests.points.filter(path.contains)
        }

        /// What `release recover` answers after a kill at `point`: 1 when it finishes verifying the
        /// unhealthy promotion (which fails, and rolls back), 0 when what it finishes succeeds or
        /// nothing was left in flight (the kill came after the deployment went live).
        func recoverStatus(killedAt point: String) -> Int32 {
            let beforeVerdict: [FaultPoint] = [.afterBegin, .afterRecord, .afterProvider, .afterCutover, .afterVerification]
            return self == .promoteUnhealthy && beforeVerdict.map(\.rawValue).contains(point) ? 1 : 0
        }
    }

    static let points: [String] =
        FaultPoint.allCases.map(\.rawValue)
        + FaultPoint.allCases.map { "\($0.rawValue)@2" }

    @Test(arguments: Scenario.allCases)
    func everyFaultPointIsRecovered(_ scenario: Scenario) async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            try await Self.prepare(harness, version: "1.0.0")
            try await harness.must(["promote", "develop", "main"])
            var reached: [String] = []
            for (round, point) in Self.points.enumerated() {
                let version = "2.\(round).0"
                let before = try await harness.live("main")
                let command = try await Self.stage(scenario, harness, version: version)
                let run = try await harness.run(command, environment: ["RELEASE_FAULT_POINT": point])
                guard run.status == SIGKILL else {
                    // The point is not on this operation's path (a rollback has no automatic
                    // rollback; @2 needs a second pass): the run must have ended as it does unhurt.
                    #expect(run.status == scenario.status, "\(scenario) at \(point): \(run)")
                    try await Self.expectSettled(harness, "\(scenario) without reaching \(point)")
                    try await Self.expectOutcome(scenario, harness, version: version, mainBefore: before, "\(scenario) without reaching \(point)")
                    continue
                }
                reached.append(point)
                let recover = try await harness.run("recover")
                #expect(recover.status == scenario.recoverStatus(killedAt: point), "recover after \(scenario) killed at \(point): \(recover)")
                try await Self.expectSettled(harness, "\(scenario) killed at \(point)")
                try await Self.expectOutcome(scenario, harness, version: version, mainBefore: before, "\(scenario) killed at \(point)")
            }
            let report = "crash points tried for \(scenario.rawValue): \(reached.count) (\(reached.joined(separator: ", ")))"
            print(report)
            try? (report + "\n").write(toFile: ProjectPaths.root + "/.build/crash-points-\(scenario.rawValue).txt", atomically: true, encoding: .utf8)
            #expect(reached == scenario.pointsOnPath, "\(report)")
        }
    }

    /// Where a random SIGKILL lands in a promotion, each phase a second or more (the deploy command
    /// takes 1.5 s, verification needs two healthy answers 1 s apart or gives up after 2 s of
    /// failures), and how long after the phase starts the kill may come.
    enum Phase: CaseIterable {
        /// The promotion's deploy command runs.
        case deploying
        /// A healthy release is being verified.
        case verifying
        /// A broken release is being verified, and failing.
        case verifyingBroken
        /// The broken release failed verification; the automatic rollback's deploy command runs.
        case rollingBack

        var broken: Bool { self == .verifyingBroken || self == .rollingBack }
        /// The in-flight deployment on main, kind and state, that marks the phase.
        var marker: (kind: String, state: String) {
            switch self {
            case .deploying: ("promote", "deploying")
            case .verifying, .verifyingBroken: ("promote", "verifying")
            case .rollingBack: ("rollback", "deploying")
            }
        }
        /// The latest a kill may come after the phase is seen, in milliseconds, well inside it.
        var latestKill: Int { self == .verifyingBroken ? 1000 : 400 }
        /// What `release recover` answers: 1 when it finishes verifying a broken release (which
        /// fails, and rolls back), 0 otherwise.
        var recoverStatus: Int32 { self == .verifyingBroken ? 1 : 0 }
    }

    @Test func randomKillsDuringPromotionsAreRecovered() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(
                harness.defaultConfig(
                    mainGates: "", developProbe: "expect_body: ok, interval: 100ms, successes: 1, within: 2s",
                    mainProbe: "expect_body: ok, interval: 1s, successes: 2, within: 3s"))
            try await Self.prepare(harness, version: "1.0.0")
            try await harness.must(["promote", "develop", "main"])
            let database = try await PostgresConnection.connect(url: harness.databaseURL)
            defer { database.close() }
            var generator = SystemRandomNumberGenerator()
            var landed = 0
            var mainLive = "1.0.0"
            let rounds = 8
            for round in 0..<rounds {
                let phase = Phase.allCases[round % Phase.allCases.count]
                let version = "3.\(round).0"
                try await Self.prepare(harness, version: version, health: phase.broken ? "broken-on=main" : "ok")
                let running = try harness.start(["promote", "develop", "main"], environment: ["DEMO_DEPLOY_SECONDS": "1.5"])
                let delay = Int.random(in: 0...phase.latestKill, using: &generator)
                let seen = await Self.killInside(phase, running.pid, after: delay, watching: database)
                let killed = await running.finish()
                let left = try Self.inFlight(database, "main")
                let inPhase =
                    seen && running.process.terminationReason == .uncaughtSignal && killed.status == SIGKILL
                    && left?.kind == phase.marker.kind && left?.state == phase.marker.state
                #expect(inPhase, "round \(round): the kill was meant to land while \(phase) but left \(String(describing: left)): \(killed)")
                if inPhase { landed += 1 }

                let recover = try await harness.run("recover")
                #expect(recover.status == phase.recoverStatus, "round \(round) (\(phase)): \(recover)")
                try await Self.expectSettled(harness, "random kill in round \(round) (\(phase))")
                if !phase.broken { mainLive = version }
                #expect(try await harness.live("main") == mainLive, "round \(round) (\(phase))")
                #expect(try await Self.isQuarantined(harness, version) == phase.broken, "round \(round) (\(phase))")
                let promotion = try await Self.promotion(harness, of: version)
                #expect(
                    promotion?["state"]?.stringValue == (phase.broken ? "rolled_back" : "live"),
                    "round \(round) (\(phase)): \(String(describing: promotion))")
            }
            print("random SIGKILLs during promotions: \(landed) of \(rounds) landed mid-operation")
            #expect(landed == rounds)
        }
    }

    @Test func recoverNeverRunsADeployCommandBesideTheOneAKilledRunLeft() async throws {
        try await Harness.with { harness in
            // The deploy command notes any second copy running beside it.
            let marks = harness.directory + "/marks"
            let gate = harness.directory + "/gate"
            let deploy =
                "mkdir \(marks)/running 2>/dev/null || echo overlap >> \(marks)/violations; "
                + "while [ -e \(gate) ]; do sleep 0.05; done; rmdir \(marks)/running; echo done >> \(marks)/runs"
            FileManager.default.createFile(atPath: gate, contents: Data())
            try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
            try harness.writeConfig(
                """
                app: crm-api
                environments:
                  develop:
                    provider: command
                    command: {deploy: "\(deploy)", timeout: 1m}

                """)
            try await harness.must(["create", "1.0.0"])
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
            try await harness.create("2.0.0")
            var deploy = try await Self.runUnread(harness, ["deploy", "2.0.0", "develop"])
            #expect(deploy == .exited(0), "deploy with nobody reading its output: \(deploy)")
            let promote = try await Self.runUnread(harness, ["promote", "develop", "main"])
            #expect(promote == .exited(0), "promote with nobody reading its output: \(promote)")
            try await Self.expectSettled(harness, "a promotion whose reader went away")
            #expect(try await harness.served("main") == "2.0.0")

            try await harness.create("3.0.0", health: "broken-on=main")
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
            try await harness.create("1.0.0")
            let held = try await harness.startHeld(["deploy", "1.0.0", "develop"], inFlightOn: "develop")
            let running = held.command
            let id = held.inFlight["id"]?.intValue ?? -1
            kill(running.pid, signal)
            let interrupted = await running.finish()
            harness.releaseDeploys(held.gate)
            #expect(running.process.terminationReason == .uncaughtSignal && interrupted.status == signal, "\(interrupted)")
            #expect(
                interrupted.stderr.contains(
                    "interrupted during deployment \(id) (deploy of 1.0.0 to develop), which stays in flight. "
                        + "Run `release recover develop` to settle it."),
                "\(interrupted)")
            let recover = try await harness.run("recover", "develop")
            #expect(recover.status == 0, "\(recover)")
            let develop = try await harness.run("status", "develop", "--json").json?["environments"]?.arrayValue?.first
            #expect(develop?["in_flight"] == .null && develop?["live"]?["version"]?.stringValue == "1.0.0", "\(String(describing: develop))")
            #expect(try await harness.served("develop") == "1.0.0")
            #expect(try await harness.run("audit", "verify").status == 0)

            guard signal == SIGHUP else { return }
            try await harness.create("1.0.1")
            let gate = harness.holdDeploys()
            let environment = harness.environment.merging(["DEMO_DEPLOY_GATE": gate]) { $1 }
            let immune = try RunningCommand.launch(
                "/usr/bin/nohup", [ProjectPaths.binary, "deploy", "1.0.1", "develop"],
                environment: environment, directory: harness.directory)
            try await harness.waitUntilInFlight("develop")
            kill(immune.pid, SIGHUP)
            try await Task.sleep(for: .milliseconds(200))
            harness.releaseDeploys(gate)
            let finished = await immune.finish()
            #expect(finished.status == 0 && immune.process.terminationReason == .exit, "under nohup: \(finished)")
            #expect(try await harness.served("develop") == "1.0.1")
        }
    }

    /// How a run whose deploy command is held (`HeldDeploy`) is interrupted, and how the
    /// deployment must record the way its command ended.
    enum Interruption: Sendable, CustomTestStringConvertible {
        /// A cancelled CI job (SIGINT, then SIGTERM) or Ctrl-C while the deploy command runs: the
        /// command's whole process group gets the signal, a background job included (which a
        /// shell starts ignoring SIGINT), and stops within its grace period.
        case signal(Int32)
        /// A deploy command that ignores the signal is killed with SIGKILL, group and all, once
        /// its `stop_timeout` is over.
        case ignored
        /// GitHub Actions cancels with SIGINT, then SIGTERM 7.5 s later, then SIGKILL: the second
        /// signal kills the command at once rather than wait out its grace period, and the run
        /// still ends by the first.
        case secondSignal

        var testDescription: String {
            switch self {
            case let .signal(signal): Self.name(signal)
            case .ignored: "an ignored SIGTERM"
            case .secondSignal: "SIGINT, then SIGTERM"
            }
        }

        static func name(_ signal: Int32) -> String { signal == SIGINT ? "SIGINT" : "SIGTERM" }

        /// The held command's `stop_timeout` and `traps`, the signal the run ends by (the first it
        /// got), and how the deployment records the command's end.
        var settings: (stopTimeout: String?, traps: String, endsBy: Int32, ended: String, detail: String) {
            switch self {
            case let .signal(signal):
                (nil, "", signal, "exited", "interrupted by \(Self.name(signal)); its command stopped within its 10s grace period")
            case .ignored:
                (
                    "1s", "trap '' INT TERM", SIGTERM, "killed_after_grace",
                    "interrupted by SIGTERM; its command was still running after its 1s grace period and was killed"
                )
            case .secondSignal:
                (
                    "30s", "trap 'touch got-int' INT; trap '' TERM", SIGINT, "killed_early",
                    "interrupted by SIGINT; its command was killed at a second signal, before its 30s grace period ended"
                )
            }
        }

        /// Signals the run, once the held command runs its background job.
        func interrupt(_ run: RunningCommand, _ held: HeldDeploy) async throws {
            kill(run.pid, settings.endsBy)
            guard case .secondSignal = self else { return }
            #expect(try await held.waitForFile("got-int"), "the deploy command never got the SIGINT")
            kill(run.pid, SIGTERM)
        }
    }

    /// An interrupted run stops its deploy command's whole process group: the run ends by the
    /// signal as before, nothing of the group outlives it, and the deployment stays in flight
    /// saying it was interrupted and how its command ended; `release recover` runs the command
    /// again, since it is not known to have finished.
    @Test(arguments: [Interruption.signal(SIGINT), .signal(SIGTERM), .ignored, .secondSignal])
    func anInterruptedRunStopsItsCommandsWholeProcessGroup(_ interruption: Interruption) async throws {
        let settings = interruption.settings
        try await Harness.with { harness in
            let held = try await HeldDeploy(harness, stopTimeout: settings.stopTimeout, traps: settings.traps)
            defer { held.killLeftovers() }
            let running = try harness.start(["deploy", "1.0.0", "develop"])
            let group = try await held.waitUntilRunning()
            try await interruption.interrupt(running, held)
            let interrupted = await running.finish()
            #expect(running.process.terminationReason == .uncaughtSignal && interrupted.status == settings.endsBy, "\(interrupted)")
            #expect(interrupted.stderr.contains("which stays in flight. Run `release recover develop` to settle it."), "\(interrupted)")
            #expect(await held.isGone(group), "the deploy command's process group outlived release: \(held.members(group))")
            try await held.expectInterruption(signal: Interruption.name(settings.endsBy), ended: settings.ended, detail: settings.detail)
            try await held.expectRecovered()
        }
    }

    /// A deploy command for develop: the demo app's deploy.sh behind a script that, while the file
    /// `hold` exists, starts a background job (`sleep 60 &`, as a deploy script's helper would)
    /// and waits, noting its process group and the job's pid; `traps` run first, in the scenario's
    /// directory. 1.0.0 is created, ready to deploy.
    struct HeldDeploy {
        let harness: Harness
        var hold: String { harness.directory + "/hold" }

        init(_ harness: Harness, stopTimeout: String? = nil, traps: String = "") async throws {
            self.harness = harness
            let directory = harness.directory
            let script = directory + "/held-deploy.sh"
            try """
            #!/bin/sh
            cd \(directory)
            cut -d' ' -f5 /proc/$$/stat > \(directory)/group
            if [ -e \(directory)/hold ]; then
                \(traps)
                sleep 60 &
                echo $! > \(directory)/background.new && mv \(directory)/background.new \(directory)/background
                while [ -e \(directory)/hold ]; do sleep 0.1; done
            fi
            exec \(ProjectPaths.root)/ops/demo-app/deploy.sh

            """.write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o755)
            _ = FileManager.default.createFile(atPath: hold, contents: Data())
            try harness.writeConfig(
                """
                app: crm-api
                environments:
                  develop:
                    provider: command
                    command: {deploy: \(script), timeout: 1m\(stopTimeout.map { ", stop_timeout: \($0)" } ?? "")}
                    health: {url: "http://127.0.0.1:\(harness.ports["develop"] ?? 0)/health", \(Harness.probing)}

                """)
            try await harness.create("1.0.0")
        }

        /// Waits until the script runs its background job; returns the script's process group.
        func waitUntilRunning() async throws -> Int32 {
            guard try await waitForFile("background"),
                let text = try? String(contentsOfFile: harness.directory + "/group", encoding: .utf8),
                let group = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                throw TestSupportError("the held deploy command did not start its background job")
            }
            return group
        }

        /// Whether `name` appears in the harness's folder within ten seconds.
        func waitForFile(_ name: String) async throws -> Bool {
            for _ in 0..<200 {
                if FileManager.default.fileExists(atPath: harness.directory + "/" + name) { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        /// The processes of `group` still running (a zombie waits only to be reaped).
        func members(_ group: Int32) -> [Int32] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap(Int32.init).filter { pid in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return false }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                return fields.count > 2 && fields[0] != "Z" && Int32(fields[2]) == group
            }
        }

        /// Whether `group` has no process left: at once, give or take a moment for a signal's delivery.
        func isGone(_ group: Int32) async -> Bool {
            for _ in 0..<10 {
                if members(group).isEmpty { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        /// Kills whatever a failed test left of the command.
        func killLeftovers() {
            try? FileManager.default.removeItem(atPath: hold)
            if let text = try? String(contentsOfFile: harness.directory + "/group", encoding: .utf8),
                let group = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), group > 1, !members(group).isEmpty
            {
                kill(-group, SIGKILL)
            }
        }

        /// The deployment stays in flight, and its detail and the audit trail say how it was interrupted.
        func expectInterruption(
            signal: String, ended: String, detail: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let status = try await harness.run("status", "develop", "--json")
            let inFlight = status.json?["environments"]?.arrayValue?.first?["in_flight"]
            #expect(
                inFlight?["state"]?.stringValue == "deploying" && inFlight?["detail"]?.stringValue == detail, "stays in flight: \(status)",
                sourceLocation: sourceLocation)
            let history = try await harness.run("history", "develop", "--json")
            let deployment = history.json?["deployments"]?.arrayValue?.first
            #expect(
                deployment?["state"]?.stringValue == "deploying" && deployment?["detail"]?.stringValue == detail,
                "\(history)", sourceLocation: sourceLocation)
            let audit = try await harness.run("audit", "--json")
            let event = audit.json?["events"]?.arrayValue?.last
            #expect(event?["action"]?.stringValue == "deploy.interrupted", "\(audit)", sourceLocation: sourceLocation)
            #expect(
                event?["details"]?["signal"]?.stringValue == signal && event?["details"]?["ended"]?.stringValue == ended
                    && event?["details"]?["stopped_within_grace"] == .bool(ended == "exited")
                    && event?["details"]?["deployment"] == deployment?["id"], "\(String(describing: event))", sourceLocation: sourceLocation)
        }

        /// `release recover` runs the stopped command again, to the end: 1.0.0 is live and served.
        func expectRecovered(sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try FileManager.default.removeItem(atPath: hold)
            let recover = try await harness.run("recover", "develop")
            #expect(recover.status == 0, "\(recover)", sourceLocation: sourceLocation)
            #expect(recover.output.contains("left deploying (interrupted by"), "\(recover)", sourceLocation: sourceLocation)
            #expect(
                !recover.stderr.contains("still running; waiting"), "the stopped command was still running: \(recover)",
                sourceLocation: sourceLocation)
            let develop = try await harness.run("status", "develop", "--json").json?["environments"]?.arrayValue?.first
            #expect(
                develop?["in_flight"] == .null && develop?["live"]?["version"]?.stringValue == "1.0.0", "\(String(describing: develop))",
                sourceLocation: sourceLocation)
            #expect(try await harness.served("develop") == "1.0.0", sourceLocation: sourceLocation)
            #expect(try await harness.run("audit", "verify").status == 0, sourceLocation: sourceLocation)
        }
    }

    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// Runs `release ARGS…` with standard output and error on a pipe whose reader has already gone.
    ///
    /// The pipe is made by a Python launcher, not here: this test process starts other children
    /// all the time (demo apps, other tests' commands), and one started between the pipe's
    /// creation and the closing of its read end would inherit that end and keep "a reader" alive
    /// for as long as it runs. Python makes pipes close-on-exec from the start.
    static func runUnread(_ harness: Harness, _ arguments: [String]) async throws -> Ending {
        let launcher = """
            import os, subprocess, sys
            read, write = os.pipe()
            os.close(read)
            print(subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=write, stderr=write).returncode)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Python.executable)
        process.arguments = ["-c", launcher, ProjectPaths.binary] + arguments
        process.environment = harness.environment
        process.currentDirectoryURL = URL(fileURLWithPath: harness.directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let code: Int32? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
        guard let code else { throw TestSupportError("the launcher of release \(arguments) did not say how it ended") }
        return code < 0 ? .signalled(-code) : .exited(code)
    }

    /// Creates `version` and deploys it to develop.
    static func prepare(_ harness: Harness, version: String, health: String = "ok") async throws {
        try await harness.createAndDeploy(version, health: health)
    }

    /// Sets the scene for one round and returns the command to crash.
    static func stage(_ scenario: Scenario, _ harness: Harness, version: String) async throws -> [String] {
        switch scenario {
        case .deploy:
            try await harness.create(version)
            return ["deploy", version, "develop"]
        case .promote:
            try await prepare(harness, version: version)
            return ["promote", "develop", "main"]
        case .promoteUnhealthy:
            try await prepare(harness, version: version, health: "broken-on=main")
            return ["promote", "develop", "main"]
        case .rollback:
            try await prepare(harness, version: version)
            try await harness.must(["promote", "develop", "main"])
            return ["rollback", "main", "--reason", "crash test"]
        }
    }

    /// What each scenario leaves, once settled: a deploy or a promotion makes `version` live; an
    /// unhealthy promotion is quarantined, rolled back, and main serves what it served before; a
    /// rollback puts back what main served before the round's promotion.
    static func expectOutcome(
        _ scenario: Scenario, _ harness: Harness, version: String, mainBefore: String?, _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        switch scenario {
        case .deploy:
            #expect(try await harness.live("develop") == version, "\(what)", sourceLocation: sourceLocation)
        case .promote:
            #expect(try await harness.live("main") == version, "\(what)", sourceLocation: sourceLocation)
        case .promoteUnhealthy, .rollback:
            #expect(try await harness.live("main") == mainBefore, "\(what)", sourceLocation: sourceLocation)
        }
        #expect(try await isQuarantined(harness, version) == (scenario == .promoteUnhealthy), "\(what)", sourceLocation: sourceLocation)
        if scenario == .promoteUnhealthy {
            let promotion = try await promotion(harness, of: version)
            #expect(promotion?["state"]?.stringValue == "rolled_back", "\(what): \(String(describing: promotion))", sourceLocation: sourceLocation)
        }
    }

    /// Whether `release list` shows `version` quarantined.
    static func isQuarantined(_ harness: Harness, _ version: String) async throws -> Bool? {
        let list = try await harness.run("list", "--json", "--limit", "1000")
        return list.json?["releases"]?.arrayValue?.first { $0["version"]?.stringValue == version }?["quarantined"].map { $0 == .bool(true) }
    }

    /// The latest promotion of `version` to main, as `release history` shows it.
    static func promotion(_ harness: Harness, of version: String) async throws -> JSONValue? {
        let history = try await harness.run("history", "main", "--json", "--limit", "1000")
        return history.json?["deployments"]?.arrayValue?.first {
            $0["version"]?.stringValue == version && $0["kind"]?.stringValue == "promote"
        }
    }

    /// Watches the database until `phase` shows on main, then kills `pid` `delay` milliseconds
    /// later; returns whether the phase showed. On a thread of its own: the cooperative pool and
    /// dispatch's are shared by every test running at once, which can keep a task from waking for
    /// seconds.
    static func killInside(_ phase: Phase, _ pid: Int32, after delay: Int, watching database: PostgresConnection) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread {
                var seen = false
                for _ in 0..<4000 where !seen {
                    let now = try? inFlight(database, "main")
                    // A deploying phase starts once its command has (the provider has not finished).
                    seen =
                        now?.kind == phase.marker.kind && now?.state == phase.marker.state
                        && (now?.commandStarted == true || phase.marker.state == "verifying")
                    if !seen { usleep(5_000) }
                }
                if seen { usleep(UInt32(delay) * 1000) }
                kill(pid, SIGKILL)
                continuation.resume(returning: seen)
            }.start()
        }
    }

    /// The deployment in flight on `environment` as the database has it now: its kind, its state,
    /// and whether its deploy command has started (its pid is recorded write-ahead).
    static func inFlight(_ database: PostgresConnection, _ environment: String) throws -> (kind: String, state: String, commandStarted: Bool)? {
        let rows = try database.query(
            """
            SELECT d.kind, d.state, d.operation->>'pid' AS pid FROM deployments d JOIN environments e ON e.id = d.environment_id
            WHERE e.name = \(environment) AND d.state IN ('pending', 'gating', 'deploying', 'verifying')
            """)
        guard let row = rows.first else { return nil }
        return (try row.string("kind"), try row.string("state"), try row.optionalString("pid") != nil)
    }

    /// One live release per environment, the one the platform serves; nothing in flight; the
    /// audit trail verifies.
    static func expectSettled(_ harness: Harness, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let status = try await harness.run("status", "--json")
        let environments = status.json?["environments"]?.arrayValue ?? []
        #expect(environments.count == 2, "\(what): \(status)", sourceLocation: sourceLocation)
        for environment in environments {
            let name = environment["name"]?.stringValue ?? "?"
            #expect(
                environment["in_flight"] == .null, "\(what): \(name) still has \(String(describing: environment["in_flight"]))",
                sourceLocation: sourceLocation)
            let live = environment["live"]?["version"]?.stringValue
            let served = try await harness.served(name)
            #expect(
                live != nil && live == served, "\(what): \(name) records \(live ?? "nothing") live but serves \(served ?? "nothing")",
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
