import Foundation
import Postgres
import ReleaseCore
import ReleaseStore

/// The database connection, opened while the arguments and release.yml are still being read.
///
/// A command that uses the database spends its first milliseconds in swift-argument-parser and
/// the configuration, and then waits on PostgreSQL to start a backend, authenticate (TLS, SCRAM)
/// and answer. The two do not depend on each other, so `Main` starts the connection before
/// parsing, and `CommandContext` takes it where it used to connect. (The schema check then
/// travels with the command's first statements: see `CommandContext.make`.)
///
/// It changes nothing a user can see: the URL is worked out from the raw arguments the way
/// `GlobalOptions` resolves it, and `take` hands the connection over only for that very URL
/// (otherwise the command connects as before). Errors are not reported here: the connection's
/// failure comes out of `take` where the command would have met it, after any usage or
/// configuration error. A command that never takes it exits without waiting for it.
final class EarlyConnection: Sendable {
    let url: String
    private let task: Task<PostgresConnection, any Error>

    private init(url: String) {
        self.url = url
        task = Task.detached { try await PostgresConnection.connect(url: url) }
    }

    /// The subcommands that open their database connection through `CommandContext`: every one
    /// in the command tree but `serve`, which reads through a pool of its own.
    static let databaseCommands: Set<String> = Set(
        ReleaseCommand.configuration.subcommands.compactMap { command in
            ObjectIdentifier(command) == ObjectIdentifier(ServeCommand.self) ? nil : command.configuration.commandName
        })

    nonisolated(unsafe) private static var started: EarlyConnection?
    private static let lock = NSLock()

    /// Starts connecting when `arguments` (global options already moved after the subcommand)
    /// name a command that will use the database and ask for nothing else first (help).
    static func start(arguments: [String], environment: [String: String] = ProcessEnvironment.current) {
        guard let url = url(arguments: arguments, environment: environment) else { return }
        let early = EarlyConnection(url: url)
        lock.withLock { started = early }
    }

    /// The database URL the command will resolve, or nil when it will not connect at all.
    static func url(arguments: [String], environment: [String: String]) -> String? {
        guard let command = arguments.first, databaseCommands.contains(command) else { return nil }
        var url: String?
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if ["-h", "--help", "--generate-completion-script"].contains(argument)
                || argument.hasPrefix("--generate-completion-script=") || argument.hasPrefix("---")
            {
                return nil
            }
            if argument == "--database-url" {
                guard index + 1 < arguments.count else { return nil }
                url = arguments[index + 1]
                index += 2
                continue
            }
            if argument.hasPrefix("--database-url=") {
                url = String(argument.dropFirst("--database-url=".count))
            }
            index += 1
        }
        return CommandContext.databaseURL(given: url, environment: environment)
    }

    /// The connection started for `url`, once open; nil when none was started for that URL.
    /// Taken at most once.
    static func take(url: String) async throws -> PostgresConnection? {
        let early: EarlyConnection? = lock.withLock {
            defer { started = nil }
            return started
        }
        guard let early else { return nil }
        guard early.url == url else {
            // Resolved differently after all: never use a connection the command did not ask for,
            // and do not wait for it either (it may be to a host that never answers).
            Task.detached { try? await early.task.value.close() }
            return nil
        }
        return try await early.task.value
    }
}
