import Postgres
import ReleaseCore

extension PostgresConnection {
    /// Starts an ad-hoc freeze.
    public func insertFreeze(environment: Int64, reason: String, until: Timestamp?, by actor: String) throws {
        try query(
            """
            INSERT INTO freezes (environment_id, reason, frozen_by, until) VALUES (\(environment), \(Secrets.redact(reason)), \(actor), \(until))
            """)
    }

    /// Lifts every active ad-hoc freeze; returns how many were active.
    public func liftFreezes(environment: Int64, by actor: String) throws -> Int {
        try query(
            """
            UPDATE freezes SET lifted_by = \(actor), lifted_at = clock_timestamp()
            WHERE environment_id = \(environment) AND lifted_at IS NULL AND (until IS NULL OR until > clock_timestamp())
            RETURNING id
            """
        ).count
    }
}
