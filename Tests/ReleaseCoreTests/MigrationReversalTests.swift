import ReleaseCore
import Testing

/// What `--reverse-migrations` undoes, app by app, and how a reverse plan's output is read.
@Suite struct MigrationReversalTests {
    static func record(_ id: String, _ kind: MigrationClass = .compatible) -> MigrationRecord {
        MigrationRecord(id: id, path: id + ".py", migrationClass: kind, reversible: kind != .irreversible, reason: "")
    }

    @Test func eachAppGoesBackToTheTargetsLastMigrationOrZero() {
        let target = ["crm/0001_initial", "crm/0002_phone", "billing/0001_initial"].map { Self.record($0) }
        let removed = ["crm/0003_drop_email", "crm/0004_index", "billing/0002_invoice", "audit/0001_initial"].map { Self.record($0) }
        let reversal = MigrationReversal(removed: removed, target: target)
        #expect(reversal.steps.map(\.app) == ["audit", "billing", "crm"])
        #expect(reversal.steps.map(\.target) == ["zero", "0001_initial", "0002_phone"])
        #expect(reversal.steps.last?.undoes.map(\.id) == ["crm/0004_index", "crm/0003_drop_email"], "newest first")
        #expect(reversal.steps.last?.described == "crm back to 0002_phone (undoes crm/0004_index, crm/0003_drop_email)")
    }

    @Test func aGenericMigrationsAppIsItsDirectoryAndItsNameHasNoExtension() {
        #expect(MigrationReversal.split("db/migrations/0003_drop.sql") == ("db/migrations", "0003_drop"))
        #expect(MigrationReversal.split("crm/0003_drop_email") == ("crm", "0003_drop_email"))
        #expect(MigrationReversal.split("0001.sql") == ("", "0001"))
    }

    /// Django 5.2's `manage.py migrate crm 0001 --plan`, printed for a RunPython without
    /// reverse_code and a RemoveField.
    static let djangoPlan = """
        Planned operations:
        crm.0003_backfill
            Raw Python operation -> IRREVERSIBLE
        crm.0002_drop_email
            Undo Remove field email from contact

        """

    @Test func djangosPlanListsItsMigrationsAndWhatItCannotReverse() {
        let plan = ReversePlanOutput(Self.djangoPlan)
        #expect(plan.migrations == ["crm.0003_backfill", "crm.0002_drop_email"])
        #expect(plan.irreversible == ["crm.0003_backfill: Raw Python operation -> IRREVERSIBLE"])
    }

    @Test func aPlanWithNothingToUndoOrOnlyReversibleSQLIsClear() {
        let empty = ReversePlanOutput("Planned operations:\n  No planned migration operations.\n")
        #expect(empty.migrations.isEmpty && empty.irreversible.isEmpty)
        let sql = ReversePlanOutput("Planned operations:\ncrm.0004_scratch\n    Raw SQL operation -> DROP TABLE crm_scratch\n")
        #expect(sql.migrations == ["crm.0004_scratch"] && sql.irreversible.isEmpty)
    }

    @Test func reversingPassesTheGateWithKnownRecordsAndRefusesUnknownOnes() {
        let initial = Self.record("crm/0001_initial")
        let dropped = Self.record("crm/0002_drop_email", .incompatible)
        let known = PromotionGate.schema(
            SchemaMove(from: "1.1.0", to: "1.0.0", current: .some([initial, dropped]), target: [initial], reverse: true), kind: .rollback)
        #expect(known.passed, "\(known.detail)")
        #expect(known.detail.contains("reverses crm/0002_drop_email (incompatible) before the code of 1.0.0 goes back: crm back to 0001_initial"))
        let unknown = PromotionGate.schema(
            SchemaMove(from: "1.1.0", to: "1.0.0", current: .some(nil), target: [initial], reverse: true), kind: .rollback)
        #expect(!unknown.passed && unknown.detail.contains("--reverse-migrations cannot tell what to reverse"), "\(unknown.detail)")
        let accepted = PromotionGate.schema(
            SchemaMove(from: "1.1.0", to: "1.0.0", current: .some(nil), target: [initial], acceptedReason: "checked", reverse: true),
            kind: .rollback)
        #expect(!accepted.passed, "--accept-schema cannot tell what to reverse either")
    }
}
