import Foundation
import ReleaseCore

/// How this project runs git: `git -C REPOSITORY …` as a `ChildProcess` (its own process group,
/// killed at the timeout), never through a shell, with the caller's environment, no prompt for a
/// password nobody will type, and messages in English so that they can be read.
struct Git: Sendable {
    /// One git command's end.
    struct Run: Sendable {
        /// Its exit status (124 when the timeout killed it).
        var status: Int32
        /// Standard output and standard error, line by line.
        var output: String
        /// The output, trimmed, when git succeeded.
        var ok: String? { status == 0 ? output.trimmingCharacters(in: .whitespacesAndNewlines) : nil }
        /// The last two lines, for a message (not redacted: callers redact what they show).
        var tail: String { output.split(separator: "\n").suffix(2).joined(separator: " ").trimmingCharacters(in: .whitespaces) }
    }

    /// One git command's end, with standard output kept apart as bytes.
    struct Captured: Sendable {
        /// Its exit status (124 when the timeout killed it).
        var status: Int32
        /// Standard output, byte for byte.
        var output: [UInt8]
        /// The last lines of standard error.
        var errors: String
    }

    /// The directory git runs in (`-C`).
    var directory: String
    /// The environment git runs with (credential helpers, SSH agent…).
    var environment: [String: String]
    /// How long any one command may take.
    var timeout: Duration

    /// Runs git with `arguments`, output and errors together, line by line.
    func run(_ arguments: [String]) async throws -> Run {
        let (termination, lines) = try await child(arguments).runCollectingLines()
        return Run(status: termination.timedOut ? 124 : termination.status, output: lines.joined(separator: "\n"))
    }

    /// Runs git with `arguments`, standard input read from `input` (nil: nothing), and keeps its
    /// standard output as bytes: for `-z` listings and `cat-file --batch`.
    func capture(_ arguments: [String], input: String? = nil) async throws -> Captured {
        var child = child(arguments)
        var inputFile: String?
        if let input {
            // A file rather than a pipe: git reads it at its pace, and nothing here can block on it.
            let path = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("release-git-\(UUID().uuidString)").path
            guard FileManager.default.createFile(atPath: path, contents: Data(input.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ChildProcessError("could not write git's input to \(path)")
            }
            inputFile = path
            child.inputFile = path
        }
        defer { if let inputFile { try? FileManager.default.removeItem(atPath: inputFile) } }
        let captured = try await child.capture()
        let termination = captured.termination
        return Captured(
            status: termination.timedOut ? 124 : termination.status, output: captured.output,
            errors: termination.tail.suffix(2).joined(separator: " ").trimmingCharacters(in: .whitespaces))
    }

    private func child(_ arguments: [String]) -> ChildProcess {
        var environment = self.environment
        environment["GIT_TERMINAL_PROMPT"] = "0"  // never wait for a password nobody will type
        environment["LC_ALL"] = "C"
        return ChildProcess(arguments: ["git", "-C", directory] + arguments, environment: environment, timeout: timeout)
    }
}
