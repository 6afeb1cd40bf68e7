import Foundation
import ReleaseCore

/// Runs release.yml's `reverse_plan:` and `reverse:` for `release rollback --reverse-migrations`,
/// one app at a time, in the working tree of the release being left (at the root of its
/// repository, like `lint:`), with the environment `release` runs with. Never run automatically.
public struct MigrationReverser: Sendable {
    /// What one `reverse:` did.
    public struct Reversed: Sendable, Equatable {
        /// Whether it exited 0 in time.
        public var succeeded: Bool
        /// How it ended, in words: "exited 1 (django.db.utils.OperationalError: …)".
        public var ending: String
    }

    /// The two commands, with `{app}` and `{target}`.
    public var planCommand: String
    public var reverseCommand: String
    /// The working tree.
    public var directory: String
    /// The commands' environment.
    public var environment: [String: String]
    /// How long a plan may take; how long one app's reverse may take.
    public var planTimeout: Duration = .seconds(300)
    public var reverseTimeout: Duration = .seconds(3600)
    /// Where the reverse's output goes as it runs (redacted).
    public var progress: @Sendable (String) -> Void

    /// A runner for the two commands in `directory`.
    public init(
        plan: String, reverse: String, directory: String, environment: [String: String], progress: @escaping @Sendable (String) -> Void
    ) {
        planCommand = plan
        reverseCommand = reverse
        self.directory = directory
        self.environment = environment
        self.progress = progress
    }

    /// Runs `reverse_plan` for `step` and reads what it printed. A plan that cannot run or exits
    /// non-zero is a failure (exit 1): nothing has been reversed then.
    public func plan(_ step: MigrationReversal.Step) async throws -> ReversePlanOutput {
        let child = ChildProcess(
            arguments: ["/bin/sh", "-c", command(planCommand, step)], environment: environment, workingDirectory: directory, timeout: planTimeout)
        let captured: ChildProcess.Captured
        do {
            captured = try await child.capture()
        } catch {
            throw ReleaseError.failed(Secrets.redact("migrations.reverse_plan could not start for \(step.app) (\(error)); nothing was reversed."))
        }
        let text = String(decoding: captured.output, as: UTF8.self)
        guard captured.termination.status == 0, !captured.termination.timedOut else {
            throw ReleaseError.failed(
                Secrets.redact(
                    "migrations.reverse_plan for \(step.app) \(Self.ending(captured.termination, output: text)); nothing was reversed. "
                        + "Fix reverse_plan: in release.yml, or what it needs (the database it reads)."))
        }
        return ReversePlanOutput(text)
    }

    /// Runs `reverse` for `step`, its output shown as it comes.
    public func reverse(_ step: MigrationReversal.Step) async throws -> Reversed {
        let progress = self.progress
        let app = step.app
        let child = ChildProcess(
            arguments: ["/bin/sh", "-c", command(reverseCommand, step)], environment: environment, workingDirectory: directory,
            timeout: reverseTimeout)
        let termination: ChildProcess.Termination
        do {
            termination = try await child.run(onLine: { progress("  \(app): " + Secrets.redact($0)) })
        } catch {
            return Reversed(succeeded: false, ending: Secrets.redact("could not start (\(error))"))
        }
        let succeeded = termination.status == 0 && !termination.timedOut
        return Reversed(succeeded: succeeded, ending: succeeded ? "exited 0" : Secrets.redact(Self.ending(termination, output: "")))
    }

    /// The command for `step`. App labels and migration names are identifiers from the records
    /// (letters, digits, `_`, `.`, `/`, `-`), quoted all the same.
    private func command(_ template: String, _ step: MigrationReversal.Step) -> String {
        MigrationsConfiguration.fill(template, ["app": Self.quoted(step.app), "target": Self.quoted(step.target)])
    }

    /// A word for /bin/sh: as it is when it is plainly safe, else in single quotes.
    static func quoted(_ word: String) -> String {
        let plain =
            !word.isEmpty
            && word.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_./-".unicodeScalars.contains($0))
            }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// "exited 1 (last lines)", "ran longer than 5m and was stopped".
    private static func ending(_ termination: ChildProcess.Termination, output: String) -> String {
        if termination.timedOut { return "ran too long and was stopped" }
        // The last line with words in it: a Python traceback ends in the error, under a line of ^.
        let lines = termination.tail + output.split(whereSeparator: \.isNewline).map(String.init)
        let last = lines.last { $0.contains(where: \.isLetter) }?.trimmingCharacters(in: .whitespaces)
        return "exited \(termination.status)" + (last.map { " (\($0))" } ?? "")
    }
}
