import BuiltInProviders
import Foundation
import Logging
import Postgres
import ProviderKit
import ReleaseCore
import ReleaseEngine
import ReleaseStore

/// Everything a command needs: the configuration, a migrated database and the engine.
struct CommandContext {
    let options: GlobalOptions
    let output: Output
    let configuration: ReleaseConfiguration
    /// release.yml as written; under enforced identity `configuration` has the stored gates instead.
    let declared: ReleaseConfiguration
    let connection: PostgresConnection
    let engine: Engine
    /// Who the database says this connection is, from the schema check (nil for `migrate`).
    let identity: Identity?

    /// Whether the database enforces identity (then the actor is the verified person).
    var enforced: Bool { identity?.enforced ?? false }

    /// The identity the schema check read; every command but `migrate` has one.
    func requireIdentity() throws -> Identity {
        guard let identity else { throw ReleaseError.usage("This command needs the schema check, which says who you are.") }
        return identity
    }

    /// Why the command starts again with the schema check before its first statement (nil: it
    /// has not; the check travels with the first statements).
    enum Restart {
        /// The full check passed a schema this binary accepts without carrying it exactly.
        case schemaAccepted
        /// Identity is enforced (RA003), which the check says only of a schema that is exactly
        /// this binary's: the schema needs no second look.
        case identityEnforced
    }
    nonisolated(unsafe) static var restart: Restart?
    /// The connection of a command that starts again, reused rather than opened twice.
    nonisolated(unsafe) static var reusable: PostgresConnection?

    /// Loads release.yml, connects, and refuses unless the schema is current (before the first
    /// statement, or with it). `identify`: the command reads `identity` (who the connection is),
    /// so the check runs first.
    static func make(_ options: GlobalOptions, requireSchema: Bool = true, identify: Bool = false) async throws -> CommandContext {
        let environment = ProcessEnvironment.current
        if let stats = environment["RELEASE_STATS"], !stats.isEmpty, stats != "0" {
            // For benchmarks: how many round trips this run made to PostgreSQL (a pipeline counts once).
            atexit {
                Output.write("release: database round trips: \(RoundTrips.total)\n", to: STDERR_FILENO)
            }
        }
        let output = Output(options)
        let declared = try loadConfiguration(options)
        var configuration = declared
        var actor = try resolveActor(options)
        var onBehalfOf: String?
        var identity: Identity?
        let context = ProviderRegistry.ProviderContext(
            configurationDirectory: configuration.directory, environment: environment,
            output: { line in output.progress("  │ " + line) })
        let registry = ProviderRegistry.builtIn
        try registry.validate(configuration, context: context)
        let connection = try await open(options)
        if requireSchema {
            if identify || restart != nil {
                // Who the connection is, before anything else: the check has a round trip of its own.
                do {
                    let claim = claimedActor(options)
                    let (verified, acting) =
                        restart == .identityEnforced && !identify
                        ? try await EnforcedIdentity.identifyEnforced(
                            claim: claim, configuration: configuration, connection: connection, output: output)
                        : try await EnforcedIdentity.identify(claim: claim, configuration: configuration, connection: connection, output: output)
                    identity = verified
                    if let acting {
                        (actor, onBehalfOf, configuration) = (acting.actor, acting.onBehalfOf, acting.configuration)
                    }
                } catch let error as PostgresError {
                    throw DatabaseFailure.translate(error)
                }
            } else {
                // The common case, enforcement off and the schema current, costs no round trip:
                // the check travels with the first statements, and when it refuses, nothing
                // they would have done happens (`ReleaseCommand.main` then checks the schema
                // in full, or starts the command again with the check first).
                connection.checkWithNextRoundTrip(Migrator().sessionCheck(assumeEnforced: false))
            }
        }
        let leaseSeconds = environment["RELEASE_LEASE_SECONDS"].flatMap(Int.init).map { max(1, $0) } ?? 30
        var logger = Logger(label: "release")
        logger.logLevel = environment["RELEASE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        var engine = Engine(
            configuration: configuration, connection: connection, providers: registry, providerContext: context,
            actor: actor, leaseSeconds: leaseSeconds, progress: { output.progress($0) }, logger: logger)
        engine.onBehalfOf = onBehalfOf
        engine.monitoring = .builtIn
        let notifier = Notifier(configuration: configuration.notify, environment: environment, log: { output.warning($0) })
        if !notifier.isEmpty {
            engine.observer = { event in await notifier.send(event) }
        }
        return CommandContext(
            options: options, output: output, configuration: configuration, declared: declared, connection: connection, engine: engine,
            identity: identity)
    }

    static func loadConfiguration(_ options: GlobalOptions) throws -> ReleaseConfiguration {
        let path = options.config ?? ProcessEnvironment.current["RELEASE_CONFIG"] ?? "release.yml"
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw ReleaseError.usage("\(path) is a directory; --config takes the path of release.yml.")
            }
            throw ReleaseError.usage("No configuration at \(path). Create release.yml (see docs/configuration.md) or pass --config PATH.")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ReleaseError.usage("\(path) is not UTF-8 text.")
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var configuration = try ReleaseConfiguration.parse(yaml: text, file: path, providers: ProviderRegistry.builtIn.names)
        configuration.file = absolute
        return configuration
    }

    /// The name the command was told to act as (--actor, RELEASE_ACTOR, GITHUB_ACTOR), if any.
    static func claimedActor(_ options: GlobalOptions) -> String? {
        let environment = ProcessEnvironment.current
        return [options.actor, environment["RELEASE_ACTOR"], environment["GITHUB_ACTOR"]].compactMap { $0 }.first { !$0.isEmpty }
    }

    static func resolveActor(_ options: GlobalOptions) throws -> String {
        try Inputs.actorName(claimedActor(options) ?? loginName(), what: "actor name", advice: " Set --actor or RELEASE_ACTOR.")
    }

    static func loginName() -> String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return ProcessEnvironment.current["USER"] ?? "unknown"
    }

    static func databaseURL(_ options: GlobalOptions) -> String {
        databaseURL(given: options.databaseURL)
    }

    /// The database a command uses: `--database-url`, else RELEASE_DATABASE_URL, else
    /// DATABASE_URL, else libpq's defaults (empty). EarlyConnection resolves it by this too.
    /// Its password is registered with `Secrets` (PGPASSWORD is, by its name).
    static func databaseURL(given: String?, environment: [String: String] = ProcessEnvironment.current) -> String {
        let url = given ?? environment["RELEASE_DATABASE_URL"] ?? environment["DATABASE_URL"] ?? ""
        let password = ConnectionString.password(in: url)
        Secrets.register(password)
        Secrets.register(password?.removingPercentEncoding)
        return url
    }

    /// After the check that travelled with a command's first statements refused: the full schema
    /// check, which says what is wrong (no schema, behind, changed) and throws that; otherwise the
    /// command is to start again on the same connection with the check first (identity is
    /// enforced, or the schema is one this binary accepts without carrying it exactly).
    static func checkInFull(after refused: PostgresConnection.CheckRefused) async throws {
        let connection = refused.connection
        connection.clearRefusal()
        let enforced = refused.error.sqlState == "RA003"
        if !enforced {
            do {
                try await connection.run { db in try Migrator().requireCurrent(db) }
            } catch let error as PostgresError {
                throw DatabaseFailure.translate(error)
            }
        }
        restart = enforced ? .identityEnforced : .schemaAccepted
        reusable = connection
    }

    static func connect(_ options: GlobalOptions) async throws -> PostgresConnection {
        try await open(options)
    }

    /// The connection for `options`: the one of a command starting again, the one `Main` started
    /// early when it is for the same URL, else a new one.
    static func open(_ options: GlobalOptions) async throws -> PostgresConnection {
        let url = databaseURL(options)
        if let connection = reusable {
            reusable = nil
            return connection
        }
        do {
            if let early = try await EarlyConnection.take(url: url) { return early }
            return try await PostgresConnection.connect(url: url)
        } catch let error as PostgresError {
            throw DatabaseFailure.unreachable(url: url, error)
        }
    }
}
