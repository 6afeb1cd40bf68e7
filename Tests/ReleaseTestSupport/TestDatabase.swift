import Foundation
import Postgres

/// A throwaway database on the test PostgreSQL cluster, dropped when the test ends.
///
/// The cluster comes from `RELEASE_TEST_DATABASE_URL` (ops/test sets it); without it, the
/// project's `ops/pg` starts one in `.pg-test`.
public enum TestDatabase {
    /// Creates a fresh empty database, runs `body` with its URL, and drops it afterwards.
    public static func with<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        let admin = try adminURL()
        let name = "release_test_\(UInt64.random(in: 0...UInt64.max) >> 16)"
        let connection = try await PostgresConnection.connect(url: admin)
        try await connection.run { db in try db.execute(script: "CREATE DATABASE \(name)") }
        let url = databaseURL(admin: admin, name: name)
        do {
            let value = try await body(url)
            try await drop(name, connection)
            return value
        } catch {
            try? await drop(name, connection)
            throw error
        }
    }

    private static func drop(_ name: String, _ connection: PostgresConnection) async throws {
        try await connection.run { db in try db.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    /// The URL of the same cluster with another database name.
    public static func databaseURL(admin: String, name: String) -> String {
        guard let scheme = admin.range(of: "://") else { return admin + " dbname=\(name)" }
        let afterScheme = admin[scheme.upperBound...]
        let authorityEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        let authority = admin[scheme.upperBound..<authorityEnd]
        var query = ""
        if let question = admin.firstIndex(of: "?") { query = String(admin[question...]) }
        return "\(admin[..<scheme.upperBound])\(authority)/\(name)\(query)"
    }

    /// The test cluster's server log when `ops/pg` runs it (`server.log` beside the socket
    /// directory that the URL's `host` names); nil for a cluster run some other way.
    public static func serverLog() throws -> String? {
        guard let query = URLComponents(string: try adminURL())?.queryItems,
            let socket = query.first(where: { $0.name == "host" })?.value, socket.hasPrefix("/")
        else { return nil }
        let log = URL(fileURLWithPath: socket).deletingLastPathComponent().appendingPathComponent("server.log").path
        return FileManager.default.isReadableFile(atPath: log) ? log : nil
    }

    /// The pg_dump of the installation ops/pg runs (the first under /usr/lib/postgresql, as
    /// ops/lib/deps.sh picks it), else /usr/bin's.
    public static var pgDump: String { tool("pg_dump") }

    /// The psql of that installation.
    public static var psql: String { tool("psql") }

    private static func tool(_ name: String) -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted() {
            let path = "/usr/lib/postgresql/\(version)/bin/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "/usr/bin/\(name)"
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var started: String?

    /// The cluster's URL, starting `ops/pg` when no URL was given.
    public static func adminURL() throws -> String {
        if let url = ProcessInfo.processInfo.environment["RELEASE_TEST_DATABASE_URL"], !url.isEmpty { return url }
        lock.lock()
        defer { lock.unlock() }
        if let started { return started }
        // Through a file and waitpid: the server ops/pg starts outlives it, holding any pipe open
        // and hiding ops/pg's exit from Foundation's Process (see Spawn).
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pg-url-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let status: Int32 = Spawn.run([ProjectPaths.root + "/ops/pg", "start", ProjectPaths.root + "/.pg-test"], output: file)
        let url = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? ""
        guard status == 0, !url.isEmpty else {
            throw TestSupportError("ops/pg could not start a test PostgreSQL; set RELEASE_TEST_DATABASE_URL or run ops/test")
        }
        started = url
        return url
    }
}

/// Where the project and the built binary are.
public enum ProjectPaths {
    /// The package root.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The `release` binary built beside the test bundle (`RELEASE_BINARY` overrides).
    public static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["RELEASE_BINARY"], !path.isEmpty { return path }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().appendingPathComponent("release").path
    }()
}

/// A failure of the test support itself.
public struct TestSupportError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
}

/// The real Python interpreter, not a version manager's shim that would outlive a kill.
public enum Python {
    /// Its path: `RELEASE_TEST_PYTHON` (ops/test sets it), else what `python3` reports as
    /// `sys.executable`.
    ///
    /// The answer goes through a file, not a pipe: a version manager's shim can leave a helper
    /// holding a pipe open after it exits, and waiting for end-of-file then blocks this static
    /// initializer, and every test thread waiting on it, forever.
    public static let executable: String = {
        if let path = ProcessInfo.processInfo.environment["RELEASE_TEST_PYTHON"], !path.isEmpty,
            FileManager.default.isExecutableFile(atPath: path)
        {
            return path
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("python-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        guard FileManager.default.createFile(atPath: file, contents: nil), let output = FileHandle(forWritingAtPath: file) else {
            return "/usr/bin/python3"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "/usr/bin/python3" }
        process.waitUntilExit()
        try? output.close()
        let path = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? ""
        return path.isEmpty ? "/usr/bin/python3" : path
    }()
}
