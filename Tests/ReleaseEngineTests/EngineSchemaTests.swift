import Foundation
import Postgres
import ReleaseCore
import ReleaseEngine
import ReleaseStore
import Testing

/// The `schema` gate in the engine: rollbacks across a migration the older code cannot run on.
@Suite struct EngineSchemaTests {
    static let migrations = MigrationsConfiguration(framework: .django, paths: ["*/migrations/*.py"])
    static let initial = MigrationRecord(
        id: "crm/0001_initial", path: "crm/migrations/0001_initial.py", migrationClass: .compatible, reversible: true,
        reason: "CreateModel contact")
    static let dropEmail = MigrationRecord(
        id: "crm/0002_drop_email", path: "crm/migrations/0002_drop_email.py", migrationClass: .incompatible, reversible: true,
        reason: "RemoveField contact.email")

    /// 1.0.0 (the initial migration) and 1.1.0 (which drops a column) created, their migrations recorded.
    static func twoReleases(_ fixture: EngineFixture) async throws {
        try await fixture.create("1.0.0", "1.1.0")
        let (first, second) = (try await fixture.release("1.0.0").id, try await fixture.release("1.1.0").id)
        try await fixture.database { db in
            try db.recordMigrations(release: first, [initial])
            try db.recordMigrations(release: second, [initial, dropEmail])
        }
    }

    @Test func aRollbackAcrossADroppedColumnIsRefusedUntilAcceptedWithAReason() async throws {
        try await EngineFixture.with { fixture in
            try await Self.twoReleases(fixture)
            let engine = try await fixture.engine(migrations: Self.migrations)
            _ = try await engine.run(OperationPlan(kind: .deploy, environment: fixture.main(), version: "1.0.0"))
            let forward = try await engine.run(OperationPlan(kind: .deploy, environment: fixture.main(), version: "1.1.0"))
            #expect(forward.gates.contains { $0.name == "schema" && $0.passed && $0.detail.hasPrefix("adds crm/0002_drop_email") })
            let before = try await fixture.history().count

            let rollback = OperationPlan(kind: .rollback, environment: fixture.main(), reason: "500s")
            let refused = try await fixture.failure { try await engine.run(rollback) }
            #expect(refused.code == .refused)
            #expect(refused.message.contains("schema: leaves crm/0002_drop_email (incompatible: RemoveField contact.email) applied"))
            #expect(try await fixture.history().count == before + 1, "only the rejected deployment is recorded")
            #expect(try await fixture.status().live?.version == "1.1.0")

            var accepted = rollback
            accepted.acceptSchema = true
            accepted.reason = "the old code never reads email"
            let report = try await engine.run(accepted)
            #expect(report.version == "1.0.0")
            let actions = try await fixture.auditActions()
            #expect(actions.contains("schema.accepted"))
        }
    }

    @Test func anAcknowledgementCoversRollbacksToItsReleaseAndLater() async throws {
        try await EngineFixture.with { fixture in
            try await Self.twoReleases(fixture)
            let engine = try await fixture.engine(migrations: Self.migrations)
            _ = try await engine.run(OperationPlan(kind: .deploy, environment: fixture.main(), version: "1.0.0"))
            _ = try await engine.run(OperationPlan(kind: .deploy, environment: fixture.main(), version: "1.1.0"))
            let unknown = try await fixture.failure {
                try await engine.acknowledge(migration: "crm/0009_nothing", of: "1.1.0", safeBackTo: "1.0.0", reason: "x")
            }
            #expect(unknown.code == .usage)
            try await engine.acknowledge(migration: "crm/0002_drop_email", of: "1.1.0", safeBackTo: "1.0.0", reason: "1.0.0 ignores email")
            let (_, gates) = try await engine.dryRun(OperationPlan(kind: .rollback, environment: fixture.main(), reason: "x"))
            let schema = try #require(gates.first { $0.name == "schema" })
            #expect(schema.passed && schema.detail.hasSuffix("each is compatible with it or acknowledged"), "\(schema.detail)")
            #expect(try await fixture.auditActions().last == "migration.acknowledged")
        }
    }

    @Test func anAutomaticRollbackNeverCrossesAnIncompatibleMigration() async throws {
        try await EngineFixture.with { fixture in
            try await Self.twoReleases(fixture)
            let engine = try await fixture.engine(migrations: Self.migrations)
            _ = try await engine.run(OperationPlan(kind: .deploy, environment: fixture.main(), version: "1.0.0"))
            fixture.provider.breaks("1.1.0")
            let failed = try await fixture.failure {
                try await engine.run(OperationPlan(kind: .deploy, environment: fixture.main(), version: "1.1.0"))
            }
            #expect(failed.code == .deploymentFailed)
            #expect(failed.message.contains("1.1.0 is quarantined and still serving on main: the automatic rollback could not start"))
            #expect(failed.message.contains("schema: leaves crm/0002_drop_email"), "\(failed.message)")
            #expect(try await fixture.status().live?.version == "1.1.0")
            #expect(try await fixture.release("1.1.0").isQuarantined)
        }
    }
}
