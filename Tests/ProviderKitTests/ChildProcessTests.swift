import Foundation
import ProviderKit
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("ChildProcess")
struct ChildProcessTests {
    private static let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin"]

    private func shell(_ script: String, workingDirectory: String? = nil, timeout: Duration = .seconds(30)) -> ChildProcess {
        ChildProcess(
            arguments: ["/bin/sh", "-c", script], environment: Self.environment,
            workingDirectory: workingDirectory, timeout: timeout)
    }

    @Test("captures stdout and stderr lines in order, and a zero exit status")
    func capturesOutputAndStatus() async throws {
        let lines = Collected<String>()
        let termination = try await shell("printf 'one\\ntwo\\n'; echo three >&2; printf four")
            .run(onLine: { lines.append($0) })
        #expect(lines.values == ["one", "two", "three", "four"])
        #expect(termination.tail == ["one", "two", "three", "four"])
        #expect(termination.status == 0)
        #expect(termination.timedOut == false)
    }

    @Test("capture keeps standard output apart, byte for byte (NUL, no final newline), and standard error in the tail")
    func capturesBytes() async throws {
        let captured = try await shell("printf 'a\\000b\\nc'; echo oops >&2; exit 2").capture()
        #expect(captured.output == [97, 0, 98, 10, 99])
        #expect(captured.termination.tail == ["oops"])
        #expect(captured.termination.status == 2)
    }

    @Test("standard input comes from inputFile when given, else /dev/null")
    func inputFile() async throws {
        try await TemporaryDirectory.with { directory in
            let input = try directory.write("input", "one\ntwo\n")
            var child = shell("wc -l")
            child.inputFile = input
            #expect(String(decoding: try await child.capture().output, as: UTF8.self).trimmingCharacters(in: .whitespaces) == "2\n")
            #expect(String(decoding: try await shell("wc -c").capture().output, as: UTF8.self).trimmingCharacters(in: .whitespaces) == "0\n")
        }
    }

    @Test("reports a non-zero exit status")
    func nonZeroStatus() async throws {
        let termination = try await shell("echo 'migration failed'; exit 3").run()
        #expect(termination.status == 3)
        #expect(termination.timedOut == false)
        #expect(termination.tail == ["migration failed"])
    }

    @Test("reports 128 + the signal when the program is killed")
    func killedBySignal() async throws {
        let termination = try await shell("kill -KILL $$").run()
        #expect(termination.status == 128 + SIGKILL)
        #expect(termination.timedOut == false)
    }

    @Test("passes exactly the given environment, nothing inherited")
    func exactEnvironment() async throws {
        let lines = Collected<String>()
        let child = ChildProcess(
            arguments: ["/usr/bin/env"],
            environment: ["GREETING": "hello world", "RELEASE_EMPTY": ""],
            timeout: .seconds(30))
        let termination = try await child.run(onLine: { lines.append($0) })
        #expect(termination.status == 0)
        #expect(lines.values.sorted() == ["GREETING=hello world", "RELEASE_EMPTY="])
    }

    @Test("calls onStart with the pid of the running program, before it finishes")
    func onStartWhileRunning() async throws {
        try await TemporaryDirectory.with { directory in
            let started = Collected<Int32>()
            // The script only finishes once onStart has created `go`; a late onStart would hit the timeout.
            let termination = try await shell(
                "echo $$ > shell.pid; while [ ! -f go ]; do sleep 0.02; done; echo done",
                workingDirectory: directory.path, timeout: .seconds(20)
            )
            .run(onStart: { pid in
                started.append(pid)
                _ = FileManager.default.createFile(atPath: directory.file("go"), contents: Data())
            })
            #expect(termination.timedOut == false)
            #expect(termination.tail == ["done"])
            let scriptPID = try #require(directory.pid(in: "shell.pid"))
            #expect(started.values == [scriptPID])
        }
    }

    @Test("a timeout stops the whole process group, background jobs included, and says so")
    func timeoutKillsProcessGroup() async throws {
        try await TemporaryDirectory.with { directory in
            let clock = ContinuousClock()
            let start = clock.now
            let termination = try await shell(
                "echo $$ > shell.pid; sleep 30 & echo $! > background.pid; echo started; sleep 30",
                workingDirectory: directory.path, timeout: .seconds(1)
            ).run()
            let elapsed = clock.now - start
            #expect(termination.timedOut)
            #expect(termination.status == 128 + SIGTERM)
            #expect(termination.tail == ["started"])
            #expect(elapsed < .seconds(20), "the run should end at the timeout, not when the 30s sleeps end")
            let shellPID = try #require(directory.pid(in: "shell.pid"))
            let backgroundPID = try #require(directory.pid(in: "background.pid"))
            #expect(await waitUntilGone(shellPID))
            #expect(await waitUntilGone(backgroundPID), "the background `sleep 30` survived the timeout")
        }
    }

    @Test("a program that ignores SIGTERM is killed with SIGKILL after its stop timeout")
    func timeoutEscalatesToKill() async throws {
        try await TemporaryDirectory.with { directory in
            let clock = ContinuousClock()
            let start = clock.now
            var child = shell(
                "trap '' TERM; sleep 60 & echo $! > background.pid; while :; do sleep 1; done",
                workingDirectory: directory.path, timeout: .seconds(1))
            child.stopTimeout = .seconds(2)
            let termination = try await child.run()
            let elapsed = clock.now - start
            #expect(termination.timedOut)
            #expect(termination.status == 128 + SIGKILL)
            #expect(elapsed < .seconds(40), "the run should end shortly after the timeout's grace period")
            let backgroundPID = try #require(directory.pid(in: "background.pid"))
            #expect(await waitUntilGone(backgroundPID), "the background job that ignores SIGTERM survived")
        }
    }

    @Test("tail keeps only the last tailLines lines, while onLine sees every line")
    func tailKeepsLastLines() async throws {
        let lines = Collected<String>()
        var child = shell("i=1; while [ $i -le 10 ]; do echo \"line $i\"; i=$((i + 1)); done")
        child.tailLines = 3
        let termination = try await child.run(onLine: { lines.append($0) })
        #expect(termination.tail == ["line 8", "line 9", "line 10"])
        #expect(lines.values.count == 10)
        #expect(lines.values.first == "line 1")
    }

    @Test("a very long output line is shortened in the tail but passed whole to onLine")
    func longLineShortenedInTail() async throws {
        let lines = Collected<String>()
        let termination = try await shell("i=0; while [ $i -lt 100 ]; do printf 'abcdefghij'; i=$((i + 1)); done; echo")
            .run(onLine: { lines.append($0) })
        #expect(lines.values.first?.count == 1000)
        let tailLine = try #require(termination.tail.first)
        #expect(tailLine.count <= 401)
        #expect(tailLine.hasPrefix("abcdefghij"))
    }

    @Test("runs in the given working directory")
    func honoursWorkingDirectory() async throws {
        try await TemporaryDirectory.with { directory in
            let termination = try await shell("pwd -P; echo written > marker.txt", workingDirectory: directory.path).run()
            #expect(termination.status == 0)
            #expect(termination.tail == [directory.path])
            #expect(directory.read("marker.txt") == "written\n")
        }
    }

    @Test("a working directory that does not exist is an error naming it")
    func missingWorkingDirectory() async throws {
        let missing = "/nonexistent/release-providerkit-\(UUID().uuidString)"
        let error = await #expect(throws: ChildProcessError.self) {
            try await shell("echo should-not-run", workingDirectory: missing).run()
        }
        #expect(error?.description.contains(missing) == true)
    }

    @Test("a program that does not exist is an error naming it")
    func missingProgram() async throws {
        let error = await #expect(throws: ChildProcessError.self) {
            try await ChildProcess(arguments: ["/nonexistent/deploy-tool"], environment: Self.environment, timeout: .seconds(5)).run()
        }
        #expect(error?.description.contains("/nonexistent/deploy-tool") == true)
    }
}
