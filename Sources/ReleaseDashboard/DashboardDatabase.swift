import Postgres
import ReleaseCore
import ReleaseStore

/// A few read-only connections that the dashboard's requests share.
///
/// A `PostgresConnection` runs one thing at a time, and a server is long-lived: requests borrow a
/// connection, at most `maximum` are open, a broken one is dropped and replaced on demand (the
/// server outlives a database restart). Every session is read-only, so the database itself
/// refuses any write the dashboard might attempt.
public actor DashboardDatabase {
    private let url: String
    private let maximum: Int
    private var idle: [PostgresConnection] = []
    private var open = 0
    /// Requests waiting for a connection, first come first served: a connection given back goes
    /// to the first of them directly (nil: a place in the pool opened), so that a request that
    /// arrives meanwhile cannot take it and send the waiter to the back of the queue again.
    private var waiting: [CheckedContinuation<PostgresConnection?, Never>] = []

    /// A pool over `url` (libpq's defaults when empty).
    public init(url: String, maximum: Int = 4) {
        self.url = url
        self.maximum = max(1, maximum)
    }

    /// Runs `body` on a borrowed connection; database failures become `ReleaseError`s (exit 5's
    /// "unavailable" when the server cannot be reached). A connection that broke (the server restarted, an administrator ended the session) is
    /// replaced and the read tried once more: reads are safe to repeat.
    public func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let connection = try await acquire()
            do {
                let value = try await connection.run(body)
                giveBack(connection, broken: false)
                return value
            } catch let error as PostgresError {
                giveBack(connection, broken: error.isConnectionFailure)
                if error.isConnectionFailure && attempt == 1 { continue }
                throw DatabaseFailure.translate(error)
            } catch {
                giveBack(connection, broken: false)
                throw error
            }
        }
    }

    /// Lends a connection for longer work of its own (verifying an audit trail).
    public func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            giveBack(connection, broken: false)
            return value
        } catch {
            let broken = (error as? ReleaseError)?.code == .unavailable
            giveBack(connection, broken: broken)
            throw error
        }
    }

    /// Closes the idle connections (those lent out close when given back broken, or with the process).
    public func close() {
        for connection in idle { connection.close() }
        open -= idle.count
        idle = []
    }

    private func acquire() async throws -> PostgresConnection {
        while true {
            if let connection = idle.popLast() { return connection }
            if open < maximum {
                open += 1
                do {
                    let connection = try await PostgresConnection.connect(url: url, applicationName: "release serve")
                    try await connection.run { db in
                        _ = try db.query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    }
                    return connection
                } catch let error as PostgresError {
                    open -= 1
                    wakeOne()
                    throw DatabaseFailure.unreachable(url: url, error)
                }
            }
            if let handed = await withCheckedContinuation({ waiting.append($0) }) { return handed }
        }
    }

    private func giveBack(_ connection: PostgresConnection, broken: Bool) {
        if broken {
            connection.close()
            open -= 1
            wakeOne()
        } else if !waiting.isEmpty {
            waiting.removeFirst().resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    /// Tells the first waiter a place in the pool opened, to open a connection of its own.
    private func wakeOne() {
        if !waiting.isEmpty { waiting.removeFirst().resume(returning: nil) }
    }
}
