import ArgumentParser
import Foundation
import Logging
import ReleaseCore
import ReleaseDashboard
import ReleaseStore

#if canImport(CMalloc)
import CMalloc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "A read-only web dashboard of every app in the database, and its JSON API.",
        discussion: """
            Pages: / (what is live where, refreshed live), /apps/APP (a timeline of what shipped when), \
            /releases/VERSION. API: /api/status, /api/history, /api/audit (the keys of --json, plus "app"). \
            Serves on 127.0.0.1 by default; any other address needs RELEASE_DASHBOARD_TOKEN.
            """)

    @Option(help: "The address to listen on (another than loopback needs RELEASE_DASHBOARD_TOKEN).") var host = "127.0.0.1"
    @Option(parsing: .unconditional, help: "The port (0: any free one, printed at start).") var port = 8080
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard (0...65535).contains(port) else { throw ReleaseError.usage("--port must be from 0 to 65535, not \(port).") }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0.isWhitespace }) else {
            throw ReleaseError.usage("--host '\(Identifier.shown(host))' is not an address: use an IP address or host name, such as 127.0.0.1.")
        }
        let environment = ProcessEnvironment.current
        let token = environment.secret("RELEASE_DASHBOARD_TOKEN")
        if !Dashboard.isLoopback(host) {
            guard let token else {
                throw ReleaseError.usage(
                    "Serving on \(host) would show every release to the network: set RELEASE_DASHBOARD_TOKEN to a long "
                        + "random secret, or leave out --host to serve on 127.0.0.1 only.")
            }
            guard token.count >= 16 else {
                throw ReleaseError.usage(
                    "RELEASE_DASHBOARD_TOKEN is too short to guard a dashboard on \(host): use at least 16 random "
                        + "characters (`openssl rand -hex 24`).")
            }
        }
        Self.boundMallocArenas(unless: environment["MALLOC_ARENA_MAX"])
        let output = Output(global)
        // release.yml is optional here: the dashboard shows every app in the database; when one is
        // found, its app's environments keep their order and freeze windows.
        let configured = global.config ?? environment["RELEASE_CONFIG"]
        let configuration =
            configured != nil || FileManager.default.fileExists(atPath: "release.yml")
            ? try CommandContext.loadConfiguration(global) : nil
        // The schema check's connection stays in the pool for the first requests.
        let database = DashboardDatabase(url: CommandContext.databaseURL(global))
        try await database.read { db in try Migrator().requireCurrent(db) }

        var logger = Logger(label: "release.serve")
        logger.logLevel = environment["RELEASE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let dashboard = Dashboard(database: database, configuration: configuration, token: token)
        let json = global.json
        do {
            try await dashboard.run(host: host, port: port, logger: logger) { address in
                if json {
                    output.document(.object([("url", .string(address)), ("token_required", .bool(token != nil))]))
                } else {
                    output.line(
                        "release: the dashboard is at \(address)\(token != nil ? " (open it once as \(address)?token=…)" : "") (Ctrl-C "
                            + "stops it)")
                }
            }
        } catch let error as ReleaseError {
            throw error
        } catch {
            let text = String(describing: error)
            if text.localizedCaseInsensitiveContains("address already in use") {
                throw ReleaseError.usage("Port \(port) on \(host) is already in use: choose another with --port (0 picks a free one).")
            }
            if text.localizedCaseInsensitiveContains("cannot assign requested address") {
                throw ReleaseError.usage("\(host) is not an address of this machine: choose one it has (0.0.0.0 for all), or leave out --host.")
            }
            throw ReleaseError.usage("Cannot listen on \(host):\(port) (\(text)). Check --host and --port.")
        }
        await database.close()
    }

    /// glibc gives each thread that meets a locked arena a new one, up to 8 per core, and each
    /// keeps what was freed in it: under 50 clients the server's resident memory rose slowly, with
    /// peaks 20–30 MiB high, while heaptrack showed its heap flat (no leak). With two arenas it
    /// settles within minutes and peaks 8 MiB high, at the same throughput (BENCHMARKS.md).
    /// MALLOC_ARENA_MAX, when set, decides instead.
    static func boundMallocArenas(unless configured: String?) {
        #if canImport(CMalloc)
        if configured == nil { _ = mallopt(M_ARENA_MAX, 2) }
        #endif
    }
}
