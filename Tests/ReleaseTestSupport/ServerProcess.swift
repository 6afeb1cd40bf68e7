import Foundation

/// A fake server's process, owned by one test: whatever `body` does, the process is killed
/// (SIGKILL: an inherited ignored SIGTERM would not stop it) and reaped afterwards.
enum ServerProcess {
    static func run<S: Sendable, T: Sendable>(_ process: Process, serving server: S, _ body: (S) async throws -> T) async throws -> T {
        do {
            let value = try await body(server)
            await stop(process)
            return value
        } catch {
            await stop(process)
            throw error
        }
    }

    static func stop(_ process: Process) async {
        kill(process.processIdentifier, SIGKILL)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }
}

/// Runs a program to completion with posix_spawn and waitpid, stdin from /dev/null and stdout
/// and stderr into a file. Foundation's Process never saw `ops/pg start` exit once it had started
/// a server that outlives it, which hung every test waiting on it.
public enum Spawn {
    /// The exit status (128 + signal when killed, -1 when it could not start).
    public static func run(_ arguments: [String], output: String) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, arguments[0], &actions, nil, argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// The same, waiting off the cooperative pool.
    public static func run(_ arguments: [String], output: String) async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            DispatchQueue.global().async { continuation.resume(returning: run(arguments, output: output) as Int32) }
        }
    }
}
