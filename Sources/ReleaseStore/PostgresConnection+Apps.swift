import Postgres
import ReleaseCore

extension PostgresConnection {
    /// The app's id, if the database has seen it.
    public func appID(named name: String) throws -> Int64? {
        try query("SELECT id FROM apps WHERE name = \(name)").first?.int64("id")
    }

    /// The app's id, registering the app on first use.
    public func ensureApp(named name: String) throws -> Int64 {
        try query("SELECT release_app_id(\(name)) AS id").first?.int64("id") ?? 0
    }

    /// The environment's id, if the database has seen it.
    public func environmentID(app: Int64, named name: String) throws -> Int64? {
        try query("SELECT id FROM environments WHERE app_id = \(app) AND name = \(name)").first?.int64("id")
    }

    /// The environment's id, registering it on first use.
    public func ensureEnvironment(app: Int64, named name: String) throws -> Int64 {
        try query("SELECT release_environment_id(\(app), \(name)) AS id").first?.int64("id") ?? 0
    }

    /// Records the latest health verdict of an environment (its detail without secrets).
    public func recordHealth(environment: Int64, healthy: Bool, detail: String) throws {
        try enqueue("SELECT release_record_health(\(environment), \(healthy), \(Secrets.redact(detail)))")
    }

    /// The database's clock.
    public func now() throws -> Timestamp {
        try fetch(Reads.now())
    }
}
