import Postgres
import ReleaseCore

extension PostgresConnection {
    /// The app's id, if the database has seen it.
    public func appID(named name: String) throws -> Int64? {
        try query("SELECT id FROM apps WHERE name = \(name)").first?.int64("id")
    }

    /// The app's id, registering the app on first use.
    public func ensureApp(named name: String) throws -> Int64 {
        let rows = try query("""
            WITH inserted AS (
                INSERT INTO apps (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING RETURNING id
            )
            SELECT id FROM inserted UNION ALL SELECT id FROM apps WHERE name = \(name) LIMIT 1
            """)
        // A concurrent transaction may have inserted it after this statement's snapshot: look again.
        let found = try rows.first?.int64("id") ?? appID(named: name)
        guard let id = found else {
            throw PostgresError(kind: .decoding, message: "Could not register app \(name).")
        }
        return id
    }

    /// The environment's id, if the database has seen it.
    public func environmentID(app: Int64, named name: String) throws -> Int64? {
        try query("SELECT id FROM environments WHERE app_id = \(app) AND name = \(name)").first?.int64("id")
    }

    /// The environment's id, registering it on first use.
    public func ensureEnvironment(app: Int64, named name: String) throws -> Int64 {
        let rows = try query("""
            WITH inserted AS (
                INSERT INTO environments (app_id, name) VALUES (\(app), \(name))
                ON CONFLICT (app_id, name) DO NOTHING RETURNING id
            )
            SELECT id FROM inserted UNION ALL SELECT id FROM environments WHERE app_id = \(app) AND name = \(name) LIMIT 1
            """)
        // A concurrent transaction may have inserted it after this statement's snapshot: look again.
        let found = try rows.first?.int64("id") ?? environmentID(app: app, named: name)
        guard let id = found else {
            throw PostgresError(kind: .decoding, message: "Could not register environment \(name).")
        }
        return id
    }

    /// Records the latest health verdict of an environment.
    public func recordHealth(environment: Int64, healthy: Bool, detail: String) throws {
        try query("""
            UPDATE environments SET health = \(healthy ? "healthy" : "unhealthy"), health_detail = \(detail),
                   health_at = clock_timestamp(),
                   recovered_at = CASE WHEN \(healthy) AND health = 'unhealthy' THEN clock_timestamp() ELSE recovered_at END
            WHERE id = \(environment)
            """)
    }

    /// The last verdict (healthy, unhealthy or unknown) and when the environment last became
    /// healthy again after an unhealthy one (nil if it never was unhealthy).
    public func healthBreak(environment: Int64) throws -> (health: String, recoveredAt: Timestamp?) {
        guard let row = try query("SELECT health, recovered_at FROM environments WHERE id = \(environment)").first else {
            return ("unknown", nil)
        }
        return (try row.string("health"), try row.optionalTimestamp("recovered_at"))
    }

    /// The last health verdict recorded for an environment: healthy, unhealthy or unknown.
    public func health(environment: Int64) throws -> (health: String, detail: String?) {
        guard let row = try query("SELECT health, health_detail FROM environments WHERE id = \(environment)").first else {
            return ("unknown", nil)
        }
        return (try row.string("health"), try row.optionalString("health_detail"))
    }

    /// The database's clock.
    public func now() throws -> Timestamp {
        guard let row = try query("SELECT clock_timestamp() AS now").first else {
            throw PostgresError(kind: .decoding, message: "The server did not return its time.")
        }
        return try row.timestamp("now")
    }
}
