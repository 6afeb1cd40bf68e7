import Postgres
import ReleaseCore

/// Applies the embedded migrations: each in its own transaction, recorded with a checksum,
/// serialized across processes by an advisory lock.
public struct Migrator: Sendable {
    /// The migrations to apply, in order.
    public let migrations: [Migration]

    /// Arbitrary constant that names our advisory lock.
    static let lockKey: Int64 = 0x72656C65617365

    /// Creates a migrator over the embedded migrations (tests may pass others).
    public init(migrations: [Migration] = Migration.embedded) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies every pending migration and returns the names applied.
    public func migrate(_ connection: PostgresConnection) async throws -> [String] {
        try await connection.run { db in
            try db.query("SELECT pg_advisory_lock(\(Self.lockKey))")
            defer { _ = try? db.query("SELECT pg_advisory_unlock(\(Self.lockKey))") }
            // Only create the bookkeeping table when it is missing: CREATE ... IF NOT EXISTS still
            // needs CREATE on the schema, which an operator role does not have (PostgreSQL 15+), and
            // `release migrate` with nothing pending must work for it.
            let exists = try db.query("SELECT to_regclass('release_schema_migrations') IS NOT NULL AS present").first?.bool("present") ?? false
            if !exists {
                try db.execute(
                    script: """
                        CREATE TABLE IF NOT EXISTS release_schema_migrations (
                            version     integer PRIMARY KEY,
                            name        text NOT NULL,
                            checksum    text NOT NULL,
                            applied_at  timestamptz NOT NULL DEFAULT clock_timestamp()
                        )
                        """)
            }
            let applied = try db.fetch(Self.appliedMigrations)
            try check(applied: applied)
            var names: [String] = []
            for migration in migrations where applied[migration.version] == nil {
                try db.transaction { tx in
                    // Once 0006 has handed the schema to release_owner, what later files create
                    // belongs to it too (the migrating login is a member), not to whoever migrates.
                    try tx.execute(
                        script: """
                            DO $$ BEGIN
                                IF pg_has_role(session_user, 'release_owner', 'MEMBER')
                                   AND EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'access_logins'
                                               AND tableowner = 'release_owner') THEN
                                    SET LOCAL ROLE release_owner;
                                END IF;
                            EXCEPTION WHEN undefined_object THEN NULL;
                            END $$
                            """)
                    try tx.execute(script: migration.sql)
                    try tx.query(
                        """
                        INSERT INTO release_schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """)
                }
                names.append(migration.name)
            }
            return names
        }
    }

    /// Refuses with advice unless the database has exactly the migrations this binary knows.
    public func requireCurrent(_ db: PostgresConnection) throws {
        let applied: [Int: (name: String, checksum: String)]
        do {
            applied = try db.fetch(Self.appliedMigrations)
        } catch let error as PostgresError where error.sqlState == "42P01" {
            throw ReleaseError.usage("The database has no release schema yet. Run `release migrate` first.")
        }
        try requireCurrent(applied: applied)
    }

    /// `requireCurrent`, and who the database says the connection is, in one round trip.
    public func requireCurrent(identifying db: PostgresConnection) throws -> Identity {
        do {
            let (applied, identity) = try db.fetch(Self.appliedMigrations, Reads.whoami)
            try requireCurrent(applied: applied)
            return identity
        } catch let error as PostgresError where error.sqlState == "42P01" || error.sqlState == "42883" {
            // No schema, or one too old to say who is who: the plain check says which.
            try requireCurrent(db)
            throw error
        }
    }

    private func requireCurrent(applied: [Int: (name: String, checksum: String)]) throws {
        try check(applied: applied)
        let pending = migrations.filter { applied[$0.version] == nil }
        if !pending.isEmpty {
            throw ReleaseError.usage(
                "The database schema is behind this release binary (\(pending.count) migration\(pending.count == 1 ? "" : "s") pending). Run "
                    + "`release migrate` first.")
        }
    }

    /// The applied migrations, by version.
    /// The check that travels with a command's first statements
    /// (`PostgresConnection.checkWithNextRoundTrip`): refused (RA002) unless the database holds
    /// exactly the migrations this binary carries, or (RA003) when identity enforcement is not
    /// `assumeEnforced`. A database from before the check refuses too (42883: no such function).
    public func sessionCheck(assumeEnforced: Bool) -> PostgresQuery {
        let expected = migrations.map { "\($0.version):\($0.checksum)" }.joined(separator: ",")
        return "SELECT release_session_check(\(expected), \(assumeEnforced))"
    }

    static let appliedMigrations = Fetch("SELECT version, name, checksum FROM release_schema_migrations") { rows in
        var applied: [Int: (name: String, checksum: String)] = [:]
        for row in rows {
            applied[try row.int("version")] = (try row.string("name"), try row.string("checksum"))
        }
        return applied
    }

    private func check(applied: [Int: (name: String, checksum: String)]) throws {
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = migrations.first(where: { $0.version == version }) else {
                throw ReleaseError.usage(
                    "The database has migration \(record.name), which this release binary does not know. Upgrade release to a version that has it.")
            }
            if migration.checksum != record.checksum {
                throw ReleaseError.usage(
                    "Migration \(migration.name) was edited after it was applied (its checksum differs). Restore the original file and put the "
                        + "change in a new migration.")
            }
        }
    }
}
