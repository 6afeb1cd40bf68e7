import Foundation
import ProviderKit
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("ProcessGroups", .serialized)
struct ProcessGroupsTests {
    /// A shell script run as a ChildProcess in the background; its pid leads its process group.
    private struct Started {
        let group: Int32
        let run: Task<ChildProcess.Termination, any Error>
    }

    /// Starts `script` and returns once it has written `ready` in `directory`.
    private func start(_ script: String, in directory: TemporaryDirectory, stopTimeout: Duration = .seconds(10)) async throws -> Started {
        var child = ChildProcess(
            arguments: ["/bin/sh", "-c", script], environment: ["PATH": "/usr/local/bin:/usr/bin:/bin"],
            workingDirectory: directory.path, timeout: .seconds(60))
        child.stopTimeout = stopTimeout
        let run = Task { try await child.run() }
        for _ in 0..<500 where directory.read("ready") == nil {
            try await Task.sleep(for: .milliseconds(20))
        }
        let group = try #require(directory.pid(in: "shell.pid"), "the script did not start")
        return Started(group: group, run: run)
    }

    /// A script for `start`: it notes its pid (its group's id) in shell.pid, starts a background
    /// job (`sleep 60`, its pid in background.pid) if `backgroundJob`, says it is ready, then waits
    /// for its background job; or, `ignoringSignals` (SIGINT and SIGTERM), loops until killed.
    private static func script(ignoringSignals: Bool, backgroundJob: Bool) -> String {
        (ignoringSignals ? "trap '' INT TERM; " : "") + "echo $$ > shell.pid; "
            + (backgroundJob ? "sleep 60 & echo $! > background.pid; " : "") + "touch ready; "
            + (ignoringSignals ? "while :; do sleep 0.1; done" : "wait")
    }

    /// Starts a script with a background job, sends its group `signal`, then stops the group
    /// within `grace`: the stop ends as `ending`, the background job is gone with the group, and
    /// the script exits with `status`.
    private func expectStop(
        ignoringSignals: Bool, after signal: Int32, within grace: Duration, ending: ProcessGroups.Ending, status: Int32,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await TemporaryDirectory.with { directory in
            let started = try await start(Self.script(ignoringSignals: ignoringSignals, backgroundJob: true), in: directory)
            defer { kill(-started.group, SIGKILL) }
            let background = try #require(directory.pid(in: "background.pid"), sourceLocation: sourceLocation)
            kill(-started.group, signal)
            #expect(await stop([started.group: grace]) == [started.group: ending], sourceLocation: sourceLocation)
            #expect(!isRunning(background), "the background job outlived its group's stop", sourceLocation: sourceLocation)
            #expect(try await started.run.value.status == status, sourceLocation: sourceLocation)
        }
    }

    /// `ProcessGroups.stop`, which blocks, on a thread of its own, as `release` runs it: neither
    /// the cooperative pool nor dispatch's, which the other suites' loopback servers need.
    private func stop(_ groups: [Int32: Duration], hurry: @escaping @Sendable () -> Bool = { false }) async -> [Int32: ProcessGroups.Ending] {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: ProcessGroups.stop(groups, hurry: hurry)) }.start()
        }
    }

    @Test("a running command's group is listed with its grace period, and forgotten once it ends")
    func runningGroupsAreListed() async throws {
        try await TemporaryDirectory.with { directory in
            let started = try await start(
                "echo $$ > shell.pid; touch ready; while [ ! -f go ]; do sleep 0.02; done",
                in: directory, stopTimeout: .seconds(7))
            // The script can say it is ready before the thread that spawned it has noted its group.
            for _ in 0..<250 where ProcessGroups.running()[started.group] == nil {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(ProcessGroups.running()[started.group] == .seconds(7))
            _ = FileManager.default.createFile(atPath: directory.file("go"), contents: Data())
            #expect(try await started.run.value.status == 0)
            #expect(ProcessGroups.running()[started.group] == nil)
        }
    }

    @Test("an interrupted command stops with its whole group: once the script is gone, its background job (which ignores SIGINT) gets SIGTERM")
    func interruptedGroupStopsWithinGrace() async throws {
        try await expectStop(ignoringSignals: false, after: SIGINT, within: .seconds(30), ending: .exited, status: 128 + SIGINT)
    }

    @Test("a group that ignores the signal is killed with SIGKILL at the end of its grace period")
    func ignoringGroupIsKilledAfterGrace() async throws {
        try await expectStop(ignoringSignals: true, after: SIGTERM, within: .seconds(1), ending: .killedAfterGrace, status: 128 + SIGKILL)
    }

    @Test("asked to hurry (a second signal), stop kills the group at once instead of waiting out its grace period")
    func hurryKillsAtOnce() async throws {
        try await TemporaryDirectory.with { directory in
            let started = try await start(Self.script(ignoringSignals: true, backgroundJob: false), in: directory)
            defer { kill(-started.group, SIGKILL) }
            kill(-started.group, SIGINT)
            #expect(await stop([started.group: .seconds(60)], hurry: { true }) == [started.group: .killedEarly])
            #expect(try await started.run.value.status == 128 + SIGKILL)
        }
    }

    @Test("a group that a second signal's handler killed between two looks was killed, not stopped by itself")
    func groupKilledByTheHandlerWasKilled() async throws {
        try await TemporaryDirectory.with { directory in
            let started = try await start(Self.script(ignoringSignals: true, backgroundJob: false), in: directory)
            defer { kill(-started.group, SIGKILL) }
            let group = started.group
            kill(-group, SIGINT)
            // The second signal's handler runs while stop is between two looks: its first question
            // comes too early, and the group is gone by the next.
            let asked = Calls()
            let endings = await stop(
                [group: .seconds(60)],
                hurry: {
                    guard asked.next() == 0 else { return true }
                    kill(-group, SIGKILL)
                    for _ in 0..<250 where !ProcessGroups.members(of: group).isEmpty { usleep(20_000) }
                    return false
                })
            #expect(endings == [group: .killedEarly])
        }
    }
}

/// Counts calls from the one thread that makes them.
private final class Calls: @unchecked Sendable {
    private var count = 0

    /// How many calls came before this one.
    func next() -> Int {
        defer { count += 1 }
        return count
    }
}
