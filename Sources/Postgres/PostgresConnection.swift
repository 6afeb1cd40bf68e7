#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLibPQ
import Dispatch
import Foundation

/// One libpq connection. Every call runs on the actor's own serial queue, so blocking libpq calls
/// never hold a thread of the cooperative pool; callers in a transaction closure run synchronously.
public actor PostgresConnection {
    private let executor: DispatchSerialExecutor
    private var handle: OpaquePointer?

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Connects with a URL or `key=value` string; empty means libpq's own defaults
    /// (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ~/.pgpass, PGSERVICE, PGSSLMODE).
    ///
    /// The session always runs in UTC with ISO dates, so timestamps read back are unambiguous.
    public init(url: String, applicationName: String = "release", connectTimeoutSeconds: Int = 5) throws {
        executor = DispatchSerialExecutor(label: "postgres.connection")
        var keywords = ["dbname", "application_name", "connect_timeout", "options"]
        var values = [
            url, applicationName, String(connectTimeoutSeconds),
            "-c TimeZone=UTC -c DateStyle=ISO -c lock_timeout=10s -c idle_in_transaction_session_timeout=10min",
        ]
        for (keyword, value) in Self.verifiedTLSDefaults(url: url, environment: ProcessInfo.processInfo.environment) {
            keywords.append(keyword)
            values.append(value)
        }
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection.")
        }
        if PQstatus(connection) != CONNECTION_OK {
            let message = Self.redacted(String(cString: PQerrorMessage(connection)), url: url)
            PQfinish(connection)
            throw PostgresError(kind: .connection, message: message)
        }
        // Server notices ("relation already exists, skipping") are not for the user's terminal.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
    }

    /// TLS verified by default: a server reached over the network (not a Unix socket, not
    /// loopback) gets `sslmode=verify-full` with the system's CA bundle unless the URL or
    /// PGSSLMODE chose a mode (`sslmode=disable` opts out, `sslrootcert=` names a private CA).
    public static func verifiedTLSDefaults(url: String, environment: [String: String]) -> [(String, String)] {
        var options: [String: String] = [:]
        if let parsed = PQconninfoParse(url, nil) {
            var option = parsed
            while let keyword = option.pointee.keyword {
                if let value = option.pointee.val { options[String(cString: keyword)] = String(cString: value) }
                option = option.advanced(by: 1)
            }
            PQconninfoFree(parsed)
        }
        if options["sslmode"] != nil || environment["PGSSLMODE"].map({ !$0.isEmpty }) == true { return [] }
        let hosts = (options["host"] ?? environment["PGHOST"] ?? "").split(separator: ",").map(String.init)
        let local = ["", "localhost", "127.0.0.1", "::1"]
        guard !hosts.isEmpty, hosts.allSatisfy({ !$0.hasPrefix("/") && !$0.hasPrefix("@") }),
              !hosts.allSatisfy({ local.contains($0) }) else { return [] }
        var defaults = [("sslmode", "verify-full")]
        let home = environment["HOME"] ?? ""
        let bundle = "/etc/ssl/certs/ca-certificates.crt"
        if options["sslrootcert"] == nil, environment["PGSSLROOTCERT"] == nil,
           !FileManager.default.fileExists(atPath: home + "/.postgresql/root.crt"), FileManager.default.fileExists(atPath: bundle) {
            defaults.append(("sslrootcert", bundle))
        }
        return defaults
    }

    /// Connects without blocking a thread of the cooperative pool: libpq's connect waits on the
    /// network, so it runs on a dispatch thread.
    public static func connect(url: String, applicationName: String = "release") async throws -> PostgresConnection {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try PostgresConnection(url: url, applicationName: applicationName) })
            }
        }
    }

    isolated deinit {
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection now rather than at deinit.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// The server's process id for this session, for tests that terminate it.
    public func backendProcessID() -> Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// Runs one statement with bound parameters and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> [PostgresRow] {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "The database connection is closed.")
        }
        RoundTrips.count()
        let result: OpaquePointer? = withOptionalCStringArray(query.binds) { values in
            PQexecParams(handle, query.sql, Int32(query.binds.count), nil, values, nil, nil, 0)
        }
        return try Self.consume(result, connection: handle)
    }

    /// Runs a script of one or more statements without parameters (migrations, DDL).
    public func execute(script: String) throws {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "The database connection is closed.")
        }
        RoundTrips.count()
        _ = try Self.consume(PQexec(handle, script), connection: handle)
    }

    /// Runs `body` inside BEGIN … COMMIT, rolling back if it throws.
    public func transaction<T: Sendable>(
        isolation level: String = "READ COMMITTED",
        _ body: @Sendable (isolated PostgresConnection) throws -> T
    ) throws -> T {
        try execute(script: "BEGIN ISOLATION LEVEL \(level)")
        do {
            let value = try body(self)
            try execute(script: "COMMIT")
            return value
        } catch {
            if let handle, PQstatus(handle) == CONNECTION_OK {
                _ = try? execute(script: "ROLLBACK")
            }
            throw error
        }
    }

    /// Runs `body` inside a transaction that is always rolled back: a consistent snapshot for
    /// questions like `promote --dry-run` that must change nothing.
    public func rolledBackTransaction<T: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> T) throws -> T {
        try execute(script: "BEGIN ISOLATION LEVEL REPEATABLE READ")
        defer {
            if let handle, PQstatus(handle) == CONNECTION_OK { _ = try? execute(script: "ROLLBACK") }
        }
        return try body(self)
    }

    /// Runs `body` isolated to this connection, outside any transaction.
    public func run<T: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> T) rethrows -> T {
        try body(self)
    }

    private static func consume(_ result: OpaquePointer?, connection: OpaquePointer) throws -> [PostgresRow] {
        guard let result else {
            throw PostgresError(kind: .connection, message: message(of: connection))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return []
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let rowCount = PQntuples(result)
            let columnCount = PQnfields(result)
            var columns: [String] = []
            columns.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                columns.append(String(cString: PQfname(result, column)))
            }
            var rows: [PostgresRow] = []
            rows.reserveCapacity(Int(rowCount))
            for row in 0..<rowCount {
                var values: [String?] = []
                values.reserveCapacity(Int(columnCount))
                for column in 0..<columnCount {
                    if PQgetisnull(result, row, column) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, row, column)))
                    }
                }
                rows.append(PostgresRow(columns: columns, values: values))
            }
            return rows
        default:
            let sqlState = field(result, CLibPQ_DIAG_SQLSTATE)
            let primary = field(result, CLibPQ_DIAG_MESSAGE_PRIMARY) ?? message(of: connection)
            let constraint = field(result, CLibPQ_DIAG_CONSTRAINT_NAME)
            let lost = PQstatus(connection) != CONNECTION_OK
            throw PostgresError(
                kind: lost && sqlState == nil ? .connection : .server,
                sqlState: sqlState, message: primary, constraint: constraint)
        }
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        guard let pointer = PQresultErrorField(result, code) else { return nil }
        return String(cString: pointer)
    }

    private static func message(of connection: OpaquePointer) -> String {
        let text = String(cString: PQerrorMessage(connection))
        return text.trimmingTrailingWhitespace()
    }

    /// libpq's connection errors name hosts and users, never passwords; still, remove the URL's
    /// password if it ever appears.
    static func redacted(_ message: String, url: String) -> String {
        var text = message.trimmingTrailingWhitespace()
        if let password = ConnectionString.password(in: url), !password.isEmpty {
            text = text.replacingAll(password, with: "***")
        }
        return text
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers.map { UnsafePointer($0) })
}

private func withOptionalCStringArray<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers.map { UnsafePointer($0) })
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }

    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var output = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            output += rest[..<range.lowerBound]
            output += replacement
            rest = rest[range.upperBound...]
        }
        output += rest
        return output
    }
}

/// How many statements this process sent to PostgreSQL (each one round trip), for benchmarks:
/// `RELEASE_STATS=1 release …` prints it on standard error at exit.
public enum RoundTrips {
    nonisolated(unsafe) private static var sent = 0
    private static let lock = NSLock()

    static func count() {
        lock.lock()
        sent += 1
        lock.unlock()
    }

    /// The number so far.
    public static var total: Int {
        lock.lock()
        defer { lock.unlock() }
        return sent
    }
}
