import Postgres
import ReleaseCore

extension PostgresConnection {
    /// Starts an ad-hoc freeze.
    public func insertFreeze(environment: Int64, reason: String, until: Timestamp?, by actor: String) throws {
        try query("SELECT release_insert_freeze(\(environment), \(Secrets.redact(reason)), \(until)::timestamptz, \(actor))")
    }

    /// Lifts every active ad-hoc freeze; returns how many were active.
    public func liftFreezes(environment: Int64, by actor: String) throws -> Int {
        try query("SELECT release_lift_freezes(\(environment), \(actor)) AS lifted").first?.int("lifted") ?? 0
    }
}
