import Postgres
import ReleaseCore

extension PostgresConnection {
    /// Records a release's schema migrations, once (inside the caller's transaction, beside the release).
    public func recordMigrations(release: Int64, _ records: [MigrationRecord]) throws {
        try enqueue(
            """
            SELECT release_record_migrations(\(release), \(records.map(\.id))::text[], \(records.map(\.path))::text[],
                \(records.map(\.migrationClass.rawValue))::text[], \(records.map { $0.reversible ? "t" : "f" })::boolean[],
                \(records.map(\.reason))::text[])
            """)
    }

    /// `release migrations ack`: MIGRATION of `release` no longer matters to the code of `safeBackTo` and later.
    public func ackMigration(release: Int64, migration: String, safeBackTo: Int64, reason: String, by claimed: String) throws {
        try enqueue("SELECT release_ack_migration(\(release), \(migration), \(safeBackTo), \(Secrets.redact(reason)), \(claimed))")
    }
}

extension Reads {
    /// The recorded migrations of each release, by release id, sorted by id; nil for a release
    /// whose migrations were never recorded (unknown).
    public static func migrations(releases: [Int64]) -> Fetch<[Int64: [MigrationRecord]?]> {
        Fetch(
            """
            SELECT r.id AS release_id, r.migrations_recorded, m.migration, m.path, m.class, m.reversible, m.reason
            FROM releases r LEFT JOIN release_migrations m ON m.release_id = r.id
            WHERE r.id = ANY(\(idArray(releases))::bigint[])
            ORDER BY r.id, m.migration
            """
        ) { rows in
            var found: [Int64: [MigrationRecord]?] = [:]
            for row in rows {
                let release = try row.int64("release_id")
                guard try row.bool("migrations_recorded") else {
                    found[release] = .some(nil)
                    continue
                }
                var records = found[release].flatMap { $0 } ?? []
                if let id = try row.optionalString("migration") {
                    records.append(
                        MigrationRecord(
                            id: id, path: try row.string("path"),
                            migrationClass: MigrationClass(rawValue: try row.string("class")) ?? .unknown,
                            reversible: try row.bool("reversible"), reason: try row.string("reason")))
                }
                found[release] = records
            }
            return found
        }
    }

    /// The acknowledged migrations that cover a move back to `target`: those acked safe back to it
    /// or to an earlier release of the same app.
    public static func acknowledged(migrations: [String], backTo target: Int64?) -> Fetch<Set<String>> {
        Fetch(
            """
            SELECT DISTINCT a.migration FROM migration_acks a
            JOIN releases safe ON safe.id = a.safe_back_to JOIN releases t ON t.id = \(target)::bigint
            WHERE a.migration = ANY(\(migrations)::text[]) AND safe.app_id = t.app_id AND a.safe_back_to <= t.id
            """
        ) { rows in Set(try rows.map { try $0.string("migration") }) }
    }
}
