import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One end-to-end scenario: a throwaway database, two demo apps (develop and main) on loopback,
/// a release.yml, and the built `release` binary run the way a user runs it.
final class Harness: @unchecked Sendable {
    /// What a command printed and how it exited.
    struct Result: Sendable, CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String

        var json: JSONValue? { JSONValue(parsing: stdout) }
        var output: String { stdout + stderr }
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    let directory: String
    let databaseURL: String
    private(set) var ports: [String: Int] = [:]
    private var apps: [Process] = []
    var environment: [String: String]

    private init(directory: String, databaseURL: String) {
        self.directory = directory
        self.databaseURL = databaseURL
        environment = [
            "RELEASE_DATABASE_URL": databaseURL, "RELEASE_ACTOR": "alice", "DEMO_ROOT": directory + "/apps",
            "RELEASE_CONFIG": directory + "/release.yml", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": directory, "RELEASE_LEASE_SECONDS": "5",
        ]
    }

    /// Runs `body` with a fresh harness (migrated database, the demo apps running unless
    /// `demoApps` is false, default release.yml) and tears everything down afterwards.
    static func with<T: Sendable>(migrate: Bool = true, demoApps: Bool = true, _ body: (Harness) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("release-e2e-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/apps", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await TestDatabase.with { url in
            let harness = Harness(directory: directory, databaseURL: url)
            do {
                if demoApps { try await harness.startApps() }
                let value = try await harness.scenario(migrate: migrate, body)
                await harness.stopApps()
                return value
            } catch {
                await harness.stopApps()
                throw error
            }
        }
    }

    private func scenario<T: Sendable>(migrate: Bool, _ body: (Harness) async throws -> T) async throws -> T {
        try writeConfig()
        if migrate {
            let result = try await run("migrate")
            guard result.status == 0 else { throw TestSupportError("migrate failed: \(result)") }
        }
        return try await body(self)
    }

    private func startApps() async throws {
        for name in ["develop", "main"] {
            let portFile = "\(directory)/\(name).port"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Python.executable)
            process.arguments = [
                ProjectPaths.root + "/ops/demo-app/app.py", "--port", "0", "--port-file", portFile,
                "--root", "\(directory)/apps/\(name)", "--env", name, "--max-seconds", "300",
            ]
            try process.run()
            apps.append(process)
            for _ in 0..<500 where ports[name] == nil {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) {
                    ports[name] = port
                } else {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            guard ports[name] != nil else { throw TestSupportError("demo app \(name) did not start") }
        }
    }

    private func stopApps() async {
        let apps = self.apps
        for app in apps where app.isRunning { kill(app.processIdentifier, SIGKILL) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                for app in apps { app.waitUntilExit() }
                continuation.resume()
            }
        }
    }

    /// How the default release.yml probes the demo apps: two healthy answers 100 ms apart, within 2 s.
    static let probing = "expect_body: ok, interval: 100ms, successes: 2, within: 2s"

    /// The default release.yml: develop and main on the demo apps, main's `gates` and each
    /// environment's probe settings as given.
    func defaultConfig(mainGates: String = "checks: [tests]", developProbe: String = probing, mainProbe: String = probing) -> String {
        let deploy = ProjectPaths.root + "/ops/demo-app/deploy.sh"
        return """
            app: crm-api
            environments:
              develop:
                provider: command
                command: {deploy: \(deploy), timeout: 1m}
                health: {url: "http://127.0.0.1:\(ports["develop"] ?? 0)/health", \(developProbe)}
              main:
                provider: command
                command: {deploy: \(deploy), timeout: 1m}
                promote_from: develop
                gates: {\(mainGates)}
                health: {url: "http://127.0.0.1:\(ports["main"] ?? 0)/health", \(mainProbe)}

            """
    }

    func writeConfig(_ text: String? = nil) throws {
        try (text ?? defaultConfig()).write(toFile: directory + "/release.yml", atomically: true, encoding: .utf8)
    }

    /// Builds a demo-app artifact: "ok", "broken" or "broken-on=main".
    func artifact(_ version: String, health: String = "ok") throws -> String {
        let path = "\(directory)/artifacts/\(version)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try "\(version)\n".write(toFile: path + "/VERSION", atomically: true, encoding: .utf8)
        try "\(health)\n".write(toFile: path + "/HEALTH", atomically: true, encoding: .utf8)
        return path
    }

    /// Turns the artifact of `version` healthy ("ok") or not ("broken", "broken-on=main"): what it
    /// serves from now on, wherever it runs.
    func setHealth(_ version: String, _ health: String) throws {
        try "\(health)\n".write(toFile: "\(directory)/artifacts/\(version)/HEALTH", atomically: true, encoding: .utf8)
    }

    /// `release create VERSION` with a demo-app artifact (see `artifact`) and `options`, which
    /// must succeed.
    func create(_ version: String, health: String = "ok", _ options: String...) async throws {
        try await must(["create", version, "--artifact", try artifact(version, health: health)] + options)
    }

    /// Creates `version` (see `create`) and deploys it to develop, which must succeed.
    func createAndDeploy(_ version: String, health: String = "ok", environment extra: [String: String] = [:]) async throws {
        try await create(version, health: health)
        try await must(["deploy", version, "develop"], environment: extra)
    }

    /// Runs `release ARGS…` to completion.
    func run(_ arguments: String..., environment extra: [String: String] = [:]) async throws -> Result {
        try await run(arguments, environment: extra)
    }

    func run(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> Result {
        let process = try start(arguments, environment: extra)
        return await process.finish()
    }

    /// Runs `release ARGS…`, which must succeed (set-up a test does not look at).
    func must(_ arguments: String..., environment extra: [String: String] = [:]) async throws {
        try await must(arguments, environment: extra)
    }

    func must(_ arguments: [String], environment extra: [String: String] = [:]) async throws {
        let result = try await run(arguments, environment: extra)
        guard result.status == 0 else { throw TestSupportError("\(arguments) failed: \(result)") }
    }

    /// The version `release status` shows live on `environment`.
    func live(_ environment: String) async throws -> String? {
        let status = try await run("status", environment, "--json")
        return status.json?["environments"]?.arrayValue?.first?["live"]?["version"]?.stringValue
    }

    /// Starts `release ARGS…` without waiting.
    func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> RunningCommand {
        try RunningCommand.launch(ProjectPaths.binary, arguments, environment: environment.merging(extra) { $1 }, directory: directory)
    }

    /// What the demo app in an environment serves right now.
    func served(_ environment: String) async throws -> String? {
        guard let port = ports[environment], let url = URL(string: "http://127.0.0.1:\(port)/") else { return nil }
        let (data, _) = try await URLSession.shared.data(from: url)
        return JSONValue(parsing: data)?["version"]?.stringValue
    }

    /// Makes demo deploys wait until `releaseDeploys` (see DEMO_DEPLOY_GATE in deploy.sh).
    func holdDeploys() -> String {
        let path = "\(directory)/gate-\(UUID().uuidString.prefix(6))"
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        return path
    }

    /// Lets held deploys finish.
    func releaseDeploys(_ gate: String) {
        try? FileManager.default.removeItem(atPath: gate)
    }

    /// A run of `release` whose demo deploys wait at a gate (`holdDeploys`).
    struct HeldRun {
        let command: RunningCommand
        /// The gate: `releaseDeploys(gate)` lets the deploys finish.
        let gate: String
        /// The deployment the run has in flight, as `release status` showed it.
        let inFlight: JSONValue
    }

    /// Starts `release ARGS…` with its demo deploys held, and returns once it has a deployment in
    /// flight on `environment`.
    func startHeld(_ arguments: [String], inFlightOn environment: String) async throws -> HeldRun {
        let gate = holdDeploys()
        let command = try start(arguments, environment: ["DEMO_DEPLOY_GATE": gate])
        return HeldRun(command: command, gate: gate, inFlight: try await waitUntilInFlight(environment))
    }

    /// Polls `release status ENV --json` until a deployment is in flight there, and returns it.
    @discardableResult
    func waitUntilInFlight(_ environment: String) async throws -> JSONValue {
        for _ in 0..<600 {
            let status = try await run("status", environment, "--json")
            if let inFlight = status.json?["environments"]?.arrayValue?.first?["in_flight"], inFlight != .null {
                return inFlight
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("nothing went in flight on \(environment)")
    }

    /// Polls the database until the deployment in flight has recorded `key` in its provider
    /// operation (write-ahead), as a killed run would have left it.
    func waitForRecordedOperation(_ key: String) async throws -> Bool {
        let connection = try await PostgresConnection.connect(url: databaseURL)
        for _ in 0..<400 {
            let rows = try connection.query("SELECT operation->>\(key) AS value FROM deployments WHERE state = 'deploying'")
            if try rows.first?.optionalString("value") != nil { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    /// A digest of everything stored, to prove a refused command changed nothing.
    func snapshot() async throws -> String {
        let connection = try await PostgresConnection.connect(url: databaseURL)
        defer { Task { connection.close() } }
        let tables = ["apps", "environments", "releases", "checks", "approvals", "deployments", "occupancy", "freezes", "audit_events"]
        var parts: [String] = []
        for table in tables {
            let rows = try connection.query(
                PostgresQuery(sql: "SELECT count(*) AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS h FROM \(table) t"))
            parts.append("\(table)=\(try rows.first?.string("n") ?? "?"):\(try rows.first?.string("h") ?? "")")
        }
        return parts.joined(separator: " ")
    }

    /// Creates 1.0.0, deploys it to develop and records its tests: the usual starting point.
    func startWithVersionOneOnDevelop() async throws {
        try await create("1.0.0", "--commit", "abc1234")
        try await must("deploy", "1.0.0", "develop")
        try await must("check", "1.0.0", "tests", "passed")
    }
}

/// A `release` process started by a test.
struct RunningCommand: @unchecked Sendable {
    let process: Process
    let stdout: Pipe
    let stderr: Pipe

    var pid: Int32 { process.processIdentifier }

    /// Starts a program with its output piped and no input.
    static func launch(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        directory: String? = nil
    ) throws -> RunningCommand {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return RunningCommand(process: process, stdout: out, stderr: err)
    }

    /// Waits for exit and collects output, off the cooperative pool.
    func finish() async -> Harness.Result {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                final class Box: @unchecked Sendable { var data = Data() }
                let box = Box()
                let group = DispatchGroup()
                group.enter()
                DispatchQueue.global().async {
                    box.data = stderr.fileHandleForReading.readDataToEndOfFile()
                    group.leave()
                }
                let stdoutData = stdout.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                let stderrData = box.data
                process.waitUntilExit()
                continuation.resume(
                    returning: Harness.Result(
                        status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                        stderr: String(decoding: stderrData, as: UTF8.self)))
            }
        }
    }
}
