import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The PostgreSQL server itself going away and coming back, on a private cluster of its own (the
/// shared test cluster cannot be restarted under the other tests): a clear exit 5 while it is
/// down, and an operation whose server restarted under it is settled by `recover`, once.
@Suite struct ServerRestartTests {
    /// Waits for a process off the cooperative pool, as the harness does.
    static func wait(_ process: Process) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }

    struct Cluster {
        let directory: String

        func pg(_ command: String) async throws -> String {
            let file = directory + ".\(command).out"
            FileManager.default.createFile(atPath: file, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: file) }
            // posix_spawn and waitpid, not Foundation's Process: its wait for ops/pg never ended
            // once ops/pg had started a server that outlives it.
            let status: Int32 = await Spawn.run([ProjectPaths.root + "/ops/pg", command, directory], output: file)
            guard status == 0 else { throw TestSupportError("ops/pg \(command) failed (\(status))") }
            return ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? ""
        }
    }

    static func run(_ arguments: [String], _ environment: [String: String], in directory: String) async throws -> (status: Int32, output: String) {
        let file = directory + "/out-\(UUID().uuidString.prefix(6))"
        FileManager.default.createFile(atPath: file, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProjectPaths.binary)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        await wait(process)
        try? output.close()
        return (process.terminationStatus, (try? String(contentsOfFile: file, encoding: .utf8)) ?? "")
    }

    @Test func aServerThatRestartsUnderAnOperationIsAClearErrorThenRecovered() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("restart-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/apps", withIntermediateDirectories: true)
        let cluster = Cluster(directory: directory + "/pg")
        let url = try await cluster.pg("start")
        do {
            try await Self.scenario(cluster: cluster, url: url, directory: directory)
        } catch {
            _ = try? await cluster.pg("stop")
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        _ = try? await cluster.pg("stop")
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func scenario(cluster: Cluster, url: String, directory: String) async throws {
        let gate = directory + "/gate"
        let deploy = "while [ -e \(gate) ]; do sleep 0.05; done; echo \"$RELEASE_VERSION\" > \(directory)/apps/served"
        try """
        app: crm-api
        environments:
          develop:
            provider: command
            command:
              deploy: '\(deploy)'
              timeout: 1m

        """.write(toFile: directory + "/release.yml", atomically: true, encoding: .utf8)
        let environment = [
            "RELEASE_DATABASE_URL": url, "RELEASE_CONFIG": directory + "/release.yml", "RELEASE_ACTOR": "alice",
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": directory,
            "RELEASE_LEASE_SECONDS": "5",
        ]
        for arguments in [["migrate"], ["create", "1.0.0"], ["create", "1.0.1"], ["deploy", "1.0.0", "develop"]] {
            let result = try await run(arguments, environment, in: directory)
            #expect(result.status == 0, "\(arguments): \(result.output)")
        }

        // Down: every command says so, exit 5, no password or stack trace.
        _ = try await cluster.pg("stop")
        let down = try await run(["status"], environment, in: directory)
        #expect(down.status == 5, "\(down.output)")
        #expect(down.output.contains("Cannot reach the database"), "\(down.output)")
        #expect(down.output.split(separator: "\n").count == 1)
        _ = try await cluster.pg("start")

        // Restarted under a running deploy: the run fails cleanly, recover settles it once.
        FileManager.default.createFile(atPath: gate, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProjectPaths.binary)
        process.arguments = ["deploy", "1.0.1", "develop"]
        process.environment = environment
        let log = directory + "/deploy.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var inFlight = false
        for _ in 0..<200 where !inFlight {
            let status = try await run(["status", "develop", "--json"], environment, in: directory)
            inFlight = JSONValue(parsing: status.output)?["environments"]?.arrayValue?.first?["in_flight"].map { $0 != .null } ?? false
            if !inFlight { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(inFlight)
        _ = try await cluster.pg("stop")
        _ = try await cluster.pg("start")
        try FileManager.default.removeItem(atPath: gate)
        await wait(process)
        try? output.close()
        let failed = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 5, "\(failed)")
        #expect(failed.contains("Lost the database connection") || failed.contains("Cannot reach the database"), "\(failed)")

        let recover = try await run(["recover", "develop"], environment, in: directory)
        #expect(recover.status == 0, "\(recover.output)")
        let status = try await run(["status", "develop", "--json"], environment, in: directory)
        let develop = JSONValue(parsing: status.output)?["environments"]?.arrayValue?.first
        #expect(develop?["live"]?["version"]?.stringValue == "1.0.1")
        #expect(develop?["in_flight"] == .null)
        let served = try String(contentsOfFile: directory + "/apps/served", encoding: .utf8)
        #expect(served.trimmingCharacters(in: .whitespacesAndNewlines) == "1.0.1")
        let history = try await run(["history", "develop", "--json"], environment, in: directory)
        #expect(JSONValue(parsing: history.output)?["deployments"]?.arrayValue?.count == 2, "recorded once: \(history.output)")
        #expect(try await run(["audit", "verify"], environment, in: directory).status == 0)
    }
}
