import Foundation
import Postgres
import ReleaseCore
import ReleaseStore
import ReleaseTestSupport
import Testing

@Suite struct MigratorTests {
    @Test func appliesEveryMigrationOnceAndRecordsChecksums() async throws {
        try await TestDatabase.with { url in
            let connection = try await PostgresConnection.connect(url: url)
            let first = try await Migrator().migrate(connection)
            #expect(first == Migration.embedded.map(\.name))
            let second = try await Migrator().migrate(connection)
            #expect(second.isEmpty)
            let rows = try connection.query("SELECT name, checksum FROM release_schema_migrations ORDER BY version")
            #expect(try rows.map { try $0.string("name") } == Migration.embedded.map(\.name))
            #expect(try rows.map { try $0.string("checksum") } == Migration.embedded.map(\.checksum))
            try await connection.run { db in try Migrator().requireCurrent(db) }
        }
    }

    @Test func racingMigrationsApplyEachFileExactlyOnce() async throws {
        try await TestDatabase.with { url in
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let connection = try await PostgresConnection.connect(url: url)
                        return try await Migrator().migrate(connection)
                    }
                }
                var all: [String] = []
                for try await names in group { all += names }
                return all
            }
            #expect(applied.sorted() == Migration.embedded.map(\.name).sorted())
        }
    }

    @Test func whatLaterMigrationsCreateBelongsToTheSchemasOwnerRole() async throws {
        try await TestDatabase.with { url in
            let connection = try await PostgresConnection.connect(url: url)
            let later = Migration(
                name: "0099_later.sql", sql: "CREATE TABLE later (id int); CREATE FUNCTION later_f() RETURNS int LANGUAGE sql AS 'SELECT 1';")
            _ = try await Migrator(migrations: Migration.embedded + [later]).migrate(connection)
            let owners = try connection.query(
                """
                SELECT (SELECT tableowner FROM pg_tables WHERE tablename = 'later') AS table_owner,
                       (SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'later_f') AS function_owner,
                       (SELECT tableowner FROM pg_tables WHERE tablename = 'deployments') AS core_owner
                """)
            #expect(try owners.first?.string("table_owner") == "release_owner")
            #expect(try owners.first?.string("function_owner") == "release_owner")
            #expect(try owners.first?.string("core_owner") == "release_owner")
            let plain = Migration(name: "0001_people.sql", sql: "CREATE TABLE people (id int);")
            try await TestDatabase.with { other in
                let fresh = try await PostgresConnection.connect(url: other)
                _ = try await Migrator(migrations: [plain]).migrate(fresh)
                #expect(try fresh.query("SELECT tableowner FROM pg_tables WHERE tablename = 'people'").first?.string("tableowner") == "release")
            }
        }
    }

    @Test func anAppliedMigrationThatWasEditedIsAnError() async throws {
        try await TestDatabase.with { url in
            let connection = try await PostgresConnection.connect(url: url)
            let original = Migration(name: "0001_people.sql", sql: "CREATE TABLE people (id int);")
            _ = try await Migrator(migrations: [original]).migrate(connection)
            let edited = Migration(name: "0001_people.sql", sql: "CREATE TABLE people (id bigint);")
            await #expect {
                _ = try await Migrator(migrations: [edited]).migrate(connection)
            } throws: { error in
                (error as? ReleaseError)?.code == .usage && "\(error)".contains("0001_people.sql was edited after it was applied")
            }
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        try await TestDatabase.with { url in
            let connection = try await PostgresConnection.connect(url: url)
            let good = Migration(name: "0001_a.sql", sql: "CREATE TABLE a (id int);")
            let bad = Migration(name: "0002_b.sql", sql: "CREATE TABLE b (id int); SELECT no_such_function();")
            await #expect(throws: PostgresError.self) {
                _ = try await Migrator(migrations: [good, bad]).migrate(connection)
            }
            let tables = try connection.query("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'b'")
            #expect(try tables.first?.int("n") == 0)
            let versions = try connection.query("SELECT version FROM release_schema_migrations")
            #expect(try versions.map { try $0.int("version") } == [1])
        }
    }

    @Test func otherCommandsRefuseWithAdviceWhenTheSchemaIsMissingBehindOrAhead() async throws {
        try await TestDatabase.with { url in
            let connection = try await PostgresConnection.connect(url: url)
            let one = Migration(name: "0001_a.sql", sql: "CREATE TABLE a (id int);")
            let two = Migration(name: "0002_b.sql", sql: "CREATE TABLE b (id int);")
            await #expect { try await connection.run { db in try Migrator(migrations: [one]).requireCurrent(db) } } throws: { error in
                "\(error)".contains("Run `release migrate` first")
            }
            _ = try await Migrator(migrations: [one]).migrate(connection)
            await #expect { try await connection.run { db in try Migrator(migrations: [one, two]).requireCurrent(db) } } throws: { error in
                "\(error)".contains("behind") && "\(error)".contains("release migrate")
            }
            _ = try await Migrator(migrations: [one, two]).migrate(connection)
            await #expect { try await connection.run { db in try Migrator(migrations: [one]).requireCurrent(db) } } throws: { error in
                "\(error)".contains("does not know") && "\(error)".contains("Upgrade release")
            }
        }
    }

    @Test func theBinaryCarriesExactlyTheFilesInMigrations() throws {
        let folder = ProjectPaths.root + "/migrations"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migration.embedded.map(\.name), "run ops/embed-migrations")
        for migration in Migration.embedded {
            let text = try String(contentsOfFile: folder + "/" + migration.name, encoding: .utf8)
            #expect(
                text.trimmingCharacters(in: .newlines) == migration.sql.trimmingCharacters(in: .newlines),
                "\(migration.name) differs from the embedded copy: run ops/embed-migrations")
            // Databases hold the SHA-256 of the SQL itself: a written-in checksum must be that one,
            // or every database migrated before would look edited.
            #expect(migration.checksum == Digest.sha256Hex(migration.sql), "\(migration.name): run ops/embed-migrations")
        }
    }
}
