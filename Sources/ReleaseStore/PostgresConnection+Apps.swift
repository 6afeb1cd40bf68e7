import Postgres
import ReleaseCore

extension PostgresConnection {
    /// The app's id, if the database has seen it.
    public func appID(named name: String) throws -> Int64? {
        try query("SELECT id FROM apps WHERE name = \(name)").first?.int64("id")
    }

    /// The app's id, registering the app on first use.
    public func ensureApp(named name: String) throws -> Int64 {
        let rows = try query(
            """
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

    /// Registers the app and one or two environments if need be, in one statement; returns their
    /// ids (the second nil when no second name is given).
    public func ensureApp(named app: String, environments first: String, _ second: String?) throws -> (app: Int64, first: Int64, second: Int64?) {
        let rows = try query(
            """
            WITH new_app AS (
                INSERT INTO apps (name) VALUES (\(app)) ON CONFLICT (name) DO NOTHING RETURNING id
            ), app AS (
                SELECT id FROM new_app UNION ALL SELECT id FROM apps WHERE name = \(app) LIMIT 1
            ), wanted (name, position) AS (
                SELECT name, position FROM (VALUES (\(first)::text, 1), (\(second)::text, 2)) v (name, position) WHERE name IS NOT NULL
            ), new_environments AS (
                INSERT INTO environments (app_id, name) SELECT app.id, wanted.name FROM app, wanted
                ON CONFLICT (app_id, name) DO NOTHING RETURNING id, name
            )
            SELECT app.id AS app_id, wanted.position, coalesce(n.id, e.id) AS id
            FROM app CROSS JOIN wanted
            LEFT JOIN new_environments n ON n.name = wanted.name
            LEFT JOIN environments e ON e.app_id = app.id AND e.name = wanted.name
            ORDER BY wanted.position
            """)
        // A concurrent transaction may have registered one of them after this statement's snapshot:
        // then take the slower path, which looks again.
        let secondID = try rows.dropFirst().first?.optionalInt64("id")
        if let appID = try rows.first?.int64("app_id"), let firstID = try rows.first?.optionalInt64("id"), second == nil || secondID != nil {
            return (appID, firstID, secondID)
        }
        let appID = try ensureApp(named: app)
        return (appID, try ensureEnvironment(app: appID, named: first), try second.map { try ensureEnvironment(app: appID, named: $0) })
    }

    /// The environment's id, if the database has seen it.
    public func environmentID(app: Int64, named name: String) throws -> Int64? {
        try query("SELECT id FROM environments WHERE app_id = \(app) AND name = \(name)").first?.int64("id")
    }

    /// The environment's id, registering it on first use.
    public func ensureEnvironment(app: Int64, named name: String) throws -> Int64 {
        let rows = try query(
            """
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

    /// Records the latest health verdict of an environment (its detail without secrets).
    public func recordHealth(environment: Int64, healthy: Bool, detail: String) throws {
        try enqueue(
            """
            UPDATE environments SET health = \(healthy ? "healthy" : "unhealthy"), health_detail = \(Secrets.redact(detail)),
                   health_at = clock_timestamp(),
                   recovered_at = CASE WHEN \(healthy) AND health = 'unhealthy' THEN clock_timestamp() ELSE recovered_at END
            WHERE id = \(environment)
            """)
    }

    /// The database's clock.
    public func now() throws -> Timestamp {
        try fetch(Reads.now())
    }
}
