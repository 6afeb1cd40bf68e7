import ArgumentParser
import CLibPQ
import Glibc

// `floor-cli status [--database-url URL]`: what floor-bare does, parsed by swift-argument-parser
// from a command tree shaped like release's (the other subcommands do nothing).

struct Global: ParsableArguments {
    @Option(name: .long, help: "Path to release.yml.") var config: String?
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL.") var databaseURL: String?
    @Option(name: .long, help: "Who is acting.") var actor: String?
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Flag(name: .long, help: "Print less.") var quiet = false
    @Flag(name: .customLong("no-color"), help: "Plain output.") var noColor = false
}

/// What every other subcommand takes: the global options, an argument and two options.
struct Idle: ParsableArguments {
    @OptionGroup var global: Global
    @Argument(help: "A version or an environment.") var subject: String?
    @Option(help: "A reason.") var reason: String?
    @Option(help: "How many.") var limit: Int?
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Connect and select 1.")
    @OptionGroup var global: Global
    @Argument(help: "An environment.") var environment: String?

    func run() throws {
        let url = global.databaseURL ?? getenv("RELEASE_DATABASE_URL").map { String(cString: $0) } ?? ""
        let connection = PQconnectdb(url)
        guard PQstatus(connection) == CONNECTION_OK else {
            _ = ("floor-cli: cannot connect: \(String(cString: PQerrorMessage(connection)))" + "\n").withCString { write(2, $0, strlen($0)) }
            throw ExitCode(5)
        }
        let result = PQexec(connection, "select 1")
        print(String(cString: PQgetvalue(result, 0, 0)))
        PQclear(result)
        PQfinish(connection)
    }
}

struct Migrate: ParsableCommand { static let configuration = CommandConfiguration(commandName: "migrate"); @OptionGroup var idle: Idle }
struct Create: ParsableCommand { static let configuration = CommandConfiguration(commandName: "create"); @OptionGroup var idle: Idle }
struct List: ParsableCommand { static let configuration = CommandConfiguration(commandName: "list"); @OptionGroup var idle: Idle }
struct Check: ParsableCommand { static let configuration = CommandConfiguration(commandName: "check"); @OptionGroup var idle: Idle }
struct Deploy: ParsableCommand { static let configuration = CommandConfiguration(commandName: "deploy"); @OptionGroup var idle: Idle }
struct Promote: ParsableCommand { static let configuration = CommandConfiguration(commandName: "promote"); @OptionGroup var idle: Idle }
struct Approve: ParsableCommand { static let configuration = CommandConfiguration(commandName: "approve"); @OptionGroup var idle: Idle }
struct Rollback: ParsableCommand { static let configuration = CommandConfiguration(commandName: "rollback"); @OptionGroup var idle: Idle }
struct Reject: ParsableCommand { static let configuration = CommandConfiguration(commandName: "reject"); @OptionGroup var idle: Idle }
struct Freeze: ParsableCommand { static let configuration = CommandConfiguration(commandName: "freeze"); @OptionGroup var idle: Idle }
struct Unfreeze: ParsableCommand { static let configuration = CommandConfiguration(commandName: "unfreeze"); @OptionGroup var idle: Idle }
struct History: ParsableCommand { static let configuration = CommandConfiguration(commandName: "history"); @OptionGroup var idle: Idle }
struct Audit: ParsableCommand { static let configuration = CommandConfiguration(commandName: "audit"); @OptionGroup var idle: Idle }
struct Probe: ParsableCommand { static let configuration = CommandConfiguration(commandName: "probe"); @OptionGroup var idle: Idle }
struct Recover: ParsableCommand { static let configuration = CommandConfiguration(commandName: "recover"); @OptionGroup var idle: Idle }
struct Watch: ParsableCommand { static let configuration = CommandConfiguration(commandName: "watch"); @OptionGroup var idle: Idle }
struct Serve: ParsableCommand { static let configuration = CommandConfiguration(commandName: "serve"); @OptionGroup var idle: Idle }

@main
struct Floor: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "floor-cli", subcommands: [
        Migrate.self, Create.self, List.self, Check.self, Deploy.self, Promote.self, Approve.self, Rollback.self, Reject.self,
        Freeze.self, Unfreeze.self, Status.self, History.self, Audit.self, Probe.self, Recover.self, Watch.self, Serve.self,
    ])
    @OptionGroup var global: Global
}
