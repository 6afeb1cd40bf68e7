import ArgumentParser
import Foundation
import Logging
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseEngine

/// `release`: the root command.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Promote the same artifact from develop to main through gates, verify it, roll back by itself, and keep an honest audit trail.",
        discussion: "`release --version` prints the version.",
        subcommands: [
            MigrateCommand.self, CreateCommand.self, ListCommand.self, CheckCommand.self, DeployCommand.self,
            PromoteCommand.self, ApproveCommand.self, RollbackCommand.self, RejectCommand.self, UnquarantineCommand.self, FreezeCommand.self,
            UnfreezeCommand.self, StatusCommand.self, HistoryCommand.self, AuditCommand.self, ProbeCommand.self,
            RecoverCommand.self, WatchCommand.self, VerifyCommand.self, AcceptCommand.self, ServeCommand.self, WhoamiCommand.self,
            AccessCommand.self, PolicyCommand.self, MigrationsCommand.self, DiffCommand.self,
        ])

    /// Accepted here too, so `release unknown --json` still answers in JSON.
    @OptionGroup var global: GlobalOptions

}

/// The commands that write to the database or a platform. A reader of their output that goes
/// away must not stop them half-way: they ignore SIGPIPE, and Output drops what nobody reads.
/// (Commands that only print keep the default, so `release audit | head` stops at once.)
/// Interrupted while one drives a deployment, it says which one stays in flight and how to
/// settle it. A list of types, not a marker protocol: asking for a conformance scans all of the
/// binary's conformance records, a tenth of a millisecond at every start.
let commandsThatChangeState: [any ParsableCommand.Type] = [
    MigrateCommand.self, CreateCommand.self, CheckCommand.self, DeployCommand.self, PromoteCommand.self, ApproveCommand.self,
    RollbackCommand.self, RejectCommand.self, FreezeCommand.self, UnfreezeCommand.self, ProbeCommand.self,
    RecoverCommand.self, WatchCommand.self, VerifyCommand.self, AcceptCommand.self, UnquarantineCommand.self, AccessCommand.EnforceCommand.self,
    AccessCommand.GrantCommand.self,
    AccessCommand.RevokeCommand.self,
    PolicyCommand.ApplyCommand.self, MigrationsCommand.AckCommand.self,
]

@main
enum Main {
    /// Parses `arguments` and runs the command.
    static func run(_ arguments: [String]) async throws {
        var command = try ReleaseCommand.parseAsRoot(arguments)
        if commandsThatChangeState.contains(where: { ObjectIdentifier($0) == ObjectIdentifier(type(of: command)) }) {
            signal(SIGPIPE, SIG_IGN)
            InterruptNotice.install()
        }
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    }

    static func main() async {
        let arguments = GlobalOptions.reorder(Array(CommandLine.arguments.dropFirst()))
        // The tool's version is `release --version` alone, not swift-argument-parser's `version:`,
        // which every subcommand would accept and list beside its own options (promote's
        // `--version V` names the release to promote).
        if arguments == ["--version"] {
            print(ReleaseInfo.version)
            exit(0)
        }
        let wantsJSON = arguments.contains("--json")
        let output = Output(json: wantsJSON, quiet: arguments.contains("--quiet"))
        LoggingSystem.bootstrap(RedactingLogHandler.init)
        EarlyConnection.start(arguments: arguments)
        do {
            do {
                try await run(arguments)
            } catch let refused as PostgresConnection.CheckRefused {
                // The schema check that travelled with the first statements refused, so none of
                // them ran: say what is wrong with the schema, or start again with the check first.
                try await CommandContext.checkInFull(after: refused)
                try await run(arguments)
            }
            exit(0)
        } catch let error as ReleaseError {
            output.error(error)
            exit(error.code.rawValue)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            let code = ReleaseCommand.exitCode(for: error)
            if code == .success {
                output.line(ReleaseCommand.fullMessage(for: error))
                exit(0)
            }
            let message = ReleaseCommand.message(for: error)
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                .joined(separator: " ")
            let sentence = message.hasSuffix(".") ? message : message + "."
            output.error(.usage("\(sentence) Run `release help` for usage."))
            exit(ReleaseError.Code.usage.rawValue)
        }
    }
}
