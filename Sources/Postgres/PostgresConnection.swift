import CLibPQ
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection. Async callers go through `run`, which runs their closure on the
/// connection's own serial queue: blocking libpq calls never hold a thread of the cooperative
/// pool, and two tasks never use the connection at once. Inside that closure every call is
/// synchronous. (This was an actor with a custom executor; optimized builds of Swift 6.3
/// miscompiled it, crashing every release binary at its first database call.)
public final class PostgresConnection: @unchecked Sendable {
    private let queue = DispatchQueue(label: "postgres.connection")
    private var handle: OpaquePointer?
    /// Round trips made on this connection (a pipeline counts once).
    public private(set) var roundTrips = 0
    /// Statements written ahead of the next round trip: a transaction's BEGIN and writes whose
    /// results nobody reads (`enqueue`). They travel with the next statement, or with COMMIT.
    private var queued: [PostgresQuery] = []
    /// True while a transaction's BEGIN is still queued, so nothing has reached the server.
    private var beginQueued = false
    /// A check that travels in front of the next round trip's statements (`checkWithNextRoundTrip`).
    private var prologue: PostgresQuery?
    /// Set when that check refused: every later statement fails the same way, unsent.
    private var refusal: CheckRefused?
    /// True when that check refused just after a BEGIN (the server's transaction is aborted, and
    /// nothing ran in it), or a snapshot was left for later (`rolledBackTransaction`): the
    /// ROLLBACK goes in front of the next round trip rather than in one of its own.
    private var rollbackOwed = false
    /// Whether something goes in front of the next statement: queued ones, the check, or a ROLLBACK.
    private var somethingGoesFirst: Bool { !queued.isEmpty || prologue != nil || rollbackOwed }

    /// The check sent with the next round trip refused, so nothing sent with it ran.
    public struct CheckRefused: Error, Sendable {
        /// The server's error.
        public var error: PostgresError
        /// The connection, to ask it more once `clearRefusal` has been called.
        public var connection: PostgresConnection
    }

    /// Sends `check` in front of the statements of the next round trip (inside its transaction,
    /// when one begins there), so that it costs no round trip of its own. When it fails, the
    /// server skips every statement sent after it, and that round trip, and every later one until
    /// `clearRefusal`, throws `CheckRefused`. Call it before the connection is used.
    public func checkWithNextRoundTrip(_ check: PostgresQuery) {
        queue.sync { prologue = check }
    }

    /// Lets the connection be used again after a `CheckRefused`.
    public func clearRefusal() {
        queue.sync { refusal = nil }
    }

    /// Connects with a URL or `key=value` string; empty means libpq's own defaults
    /// (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ~/.pgpass, PGSERVICE, PGSSLMODE).
    ///
    /// The session always runs in UTC with ISO dates, so timestamps read back are unambiguous.
    public init(url: String, applicationName: String = "release", connectTimeoutSeconds: Int = 5) throws {
        var keywords = ["dbname", "application_name", "connect_timeout", "options"]
        var values = [
            url, applicationName, String(connectTimeoutSeconds),
            "-c TimeZone=UTC -c DateStyle=ISO -c lock_timeout=10s -c idle_in_transaction_session_timeout=10min",
        ]
        for (keyword, value) in Self.verifiedTLSDefaults(url: url, environment: Self.tlsEnvironment()) {
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

    /// The variables `verifiedTLSDefaults` reads, by getenv: `ProcessInfo.environment` would
    /// copy every variable of the process for four.
    static func tlsEnvironment() -> [String: String] {
        var environment: [String: String] = [:]
        for name in ["PGSSLMODE", "PGHOST", "HOME", "PGSSLROOTCERT"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return environment
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
            !hosts.allSatisfy({ local.contains($0) })
        else { return [] }
        var defaults = [("sslmode", "verify-full")]
        let home = environment["HOME"] ?? ""
        let bundle = "/etc/ssl/certs/ca-certificates.crt"
        if options["sslrootcert"] == nil, environment["PGSSLROOTCERT"] == nil,
            !FileManager.default.fileExists(atPath: home + "/.postgresql/root.crt"), FileManager.default.fileExists(atPath: bundle)
        {
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

    deinit {
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

    /// Runs one statement with bound parameters and returns its rows. Statements queued before it
    /// go in the same round trip.
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> [PostgresRow] {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "The database connection is closed.")
        }
        if somethingGoesFirst || refusal != nil {
            return try flush(then: [query]).last ?? []
        }
        countRoundTrip()
        let result: OpaquePointer? = withOptionalCStringArray(query.binds) { values in
            PQexecParams(handle, query.sql, Int32(query.binds.count), nil, values, nil, nil, 0)
        }
        return try Self.consume(result, connection: handle)
    }

    private func countRoundTrip() {
        RoundTrips.count()
        roundTrips += 1
    }

    /// Reads several statements' results in one round trip (libpq's pipeline mode), each decoded
    /// by its own `Fetch`. Use it for reads that do not depend on one another.
    public func fetch<each T>(_ fetches: repeat Fetch<each T>) throws -> (repeat each T) {
        var queries: [PostgresQuery] = []
        for fetch in repeat each fetches { queries.append(fetch.query) }
        let results = try pipeline(queries)
        var index = 0
        func decode<U>(_ fetch: Fetch<U>) throws -> U {
            defer { index += 1 }
            return try fetch.decode(results[index])
        }
        return (repeat try decode(each fetches))
    }

    /// Sends several statements in one round trip and returns each one's rows (for a batch of
    /// reads whose number is known only at run time; `fetch` for a fixed set).
    public func pipeline(_ queries: [PostgresQuery]) throws -> [[PostgresRow]] {
        guard !queries.isEmpty else { return [] }
        let results = try flush(then: queries)
        return Array(results.suffix(queries.count))
    }

    /// Reads of one kind whose number is known only at run time, in one round trip, decoded in order.
    public func fetchAll<T>(_ fetches: [Fetch<T>]) throws -> [T] {
        try zip(fetches, pipeline(fetches.map(\.query))).map { fetch, rows in try fetch.decode(rows) }
    }

    /// Queues a write whose result nobody reads; inside `transaction` it reaches the server with
    /// the next statement or with COMMIT, in the same round trip, and an error in it surfaces
    /// there (rolling back everything, as before). Outside a transaction it runs at once.
    public func enqueue(_ query: PostgresQuery) throws {
        guard inTransaction else {
            try self.query(query)
            return
        }
        queued.append(query)
    }

    private var inTransaction = false

    /// Runs a script of one or more statements without parameters (migrations, DDL).
    public func execute(script: String) throws {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "The database connection is closed.")
        }
        if somethingGoesFirst { _ = try flush(then: []) }
        countRoundTrip()
        _ = try Self.consume(PQexec(handle, script), connection: handle)
    }

    /// Runs `body` inside BEGIN … COMMIT, rolling back if it throws. BEGIN travels with the first
    /// statement and COMMIT with the last writes, so a transaction costs no extra round trips.
    public func transaction<T: Sendable>(
        isolation level: String = "READ COMMITTED",
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        try begin(PostgresQuery(sql: "BEGIN ISOLATION LEVEL \(level)"))
        defer {
            inTransaction = false
            committed = false
        }
        do {
            let value = try body(self)
            if committed {
                // `commit(returning:)` sent COMMIT with the last statements.
            } else if beginQueued && queued.count == 1 {
                // Nothing ran: there is nothing to commit.
                queued = []
                beginQueued = false
            } else {
                queued.append("COMMIT")
                _ = try flush(then: [])
            }
            return value
        } catch {
            abandon()
            throw error
        }
    }

    /// Inside `transaction`: sends what is queued, `fetch`, `writes` and COMMIT in one round trip,
    /// and returns `fetch`'s value. An error in any of them rolls everything back, as always.
    public func commit<T>(returning fetch: Fetch<T>, then writes: [PostgresQuery] = []) throws -> T {
        guard inTransaction, !committed else {
            throw PostgresError(kind: .server, message: "commit(returning:) needs an open transaction.")
        }
        let results = try flush(then: [fetch.query] + writes + ["COMMIT"])
        committed = true
        return try fetch.decode(results[results.count - writes.count - 2])
    }

    /// True once `commit(returning:)` committed the open transaction.
    private var committed = false

    /// Runs `body` inside a transaction that is always rolled back: a consistent snapshot for
    /// questions like `promote --dry-run` that must change nothing. `rollingBackLater`: the
    /// command ends with it (nothing waits on the snapshot), so its ROLLBACK goes in front of the
    /// next request, or ends with the connection, instead of taking a round trip of its own.
    public func rolledBackTransaction<T>(rollingBackLater: Bool = false, _ body: (PostgresConnection) throws -> T) throws -> T {
        try begin("BEGIN ISOLATION LEVEL REPEATABLE READ")
        defer {
            inTransaction = false
            if rollingBackLater, !beginQueued {
                queued = []
                rollbackOwed = true
            } else {
                abandon()
            }
        }
        return try body(self)
    }

    private func begin(_ statement: PostgresQuery) throws {
        guard queued.isEmpty, !inTransaction else {
            throw PostgresError(kind: .server, message: "A transaction is already open on this connection.")
        }
        queued = [statement]
        beginQueued = true
        inTransaction = true
    }

    /// Ends a transaction that failed (or must change nothing): drops what was never sent, and
    /// rolls back on the server only when BEGIN reached it.
    private func abandon() {
        let reachedServer = !beginQueued && !rollbackOwed
        queued = []
        beginQueued = false
        if reachedServer, let handle, PQstatus(handle) == CONNECTION_OK {
            _ = try? execute(script: "ROLLBACK")
        }
    }

    /// Sends the queued statements followed by `more` in one pipeline and returns every
    /// statement's rows, queued ones first. Throws the first statement's error; the statements
    /// after it were skipped by the server.
    private func flush(then more: [PostgresQuery]) throws -> [[PostgresRow]] {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "The database connection is closed.")
        }
        if let refusal { throw refusal }
        var queries = queued + more
        // The check goes first, or just after a BEGIN, so that its failure skips everything else.
        var checkIndex = prologue.map { check in
            let index = beginQueued ? 1 : 0
            queries.insert(check, at: index)
            return index
        }
        let owed = rollbackOwed
        if owed {
            queries.insert("ROLLBACK", at: 0)
            checkIndex = checkIndex.map { $0 + 1 }
        }
        rollbackOwed = false
        let beginsTransaction = beginQueued
        prologue = nil
        queued = []
        beginQueued = false
        countRoundTrip()
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError(kind: .connection, message: Self.message(of: handle))
        }
        defer { PQexitPipelineMode(handle) }
        for query in queries {
            let sent = withOptionalCStringArray(query.binds) { values in
                PQsendQueryParams(handle, query.sql, Int32(query.binds.count), nil, values, nil, nil, 0)
            }
            guard sent == 1 else { throw PostgresError(kind: .connection, message: Self.message(of: handle)) }
        }
        guard PQpipelineSync(handle) == 1 else {
            throw PostgresError(kind: .connection, message: Self.message(of: handle))
        }
        // Each statement's result is followed by a NULL; the pipeline ends with PGRES_PIPELINE_SYNC.
        var results = Array(repeating: [PostgresRow](), count: queries.count)
        var firstError: (any Error)?
        var firstErrorIndex = 0
        var index = 0
        var nullsInARow = 0
        while true {
            guard let result = PQgetResult(handle) else {
                index += 1
                nullsInARow += 1
                if nullsInARow > 1 {
                    throw firstError ?? PostgresError(kind: .connection, message: Self.message(of: handle))
                }
                continue
            }
            nullsInARow = 0
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC {
                PQclear(result)
                break
            }
            if status == PGRES_PIPELINE_ABORTED {
                PQclear(result)
                continue
            }
            do {
                let rows = try Self.consume(result, connection: handle)
                if index < results.count { results[index] = rows }
            } catch {
                if firstError == nil { (firstError, firstErrorIndex) = (error, index) }
            }
        }
        if let firstError {
            if let checkIndex, firstErrorIndex == checkIndex, let error = firstError as? PostgresError {
                let refused = CheckRefused(error: error, connection: self)
                refusal = refused
                rollbackOwed = beginsTransaction
                throw refused
            }
            throw firstError
        }
        if let checkIndex { results.remove(at: checkIndex) }
        if owed { results.removeFirst() }
        return results
    }

    /// Runs `body` on the connection's queue, outside any transaction, without blocking the caller's thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self) })
            }
        }
    }

    /// Runs `body` in a transaction (see `transaction(isolation:_:)`) on the connection's queue.
    public func runTransaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await run { db in try db.transaction(body) }
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

/// How many round trips this process made to PostgreSQL (a pipeline of statements counts once),
/// for benchmarks:
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
