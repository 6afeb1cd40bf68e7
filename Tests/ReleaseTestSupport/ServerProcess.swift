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
