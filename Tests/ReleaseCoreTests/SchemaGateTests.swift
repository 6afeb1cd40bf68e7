import ReleaseCore
import Testing

/// The `schema` gate over the classes a move crosses, the operation and the ways past it.
@Suite struct SchemaGateTests {
    static func migration(_ id: String, _ kind: MigrationClass) -> MigrationRecord {
        MigrationRecord(
            id: id, path: "crm/migrations/\(id.dropFirst(4)).py", migrationClass: kind, reversible: kind != .irreversible,
            reason: kind == .incompatible ? "RemoveField contact.email" : "")
    }

    static let initial = migration("crm/0001_initial", .compatible)

    /// A move from a release with `initial` and `crossed` back to one with `initial` only.
    static func back(
        across crossed: MigrationRecord, acknowledged: Set<String> = [], accepted: String? = nil, kind: DeploymentKind = .rollback
    ) -> GateResult {
        PromotionGate.schema(
            SchemaMove(
                from: "1.1.0", to: "1.0.0", current: .some([initial, crossed]), target: [initial], acknowledged: acknowledged,
                acceptedReason: accepted), kind: kind)
    }

    @Test(arguments: MigrationClass.allCases, [DeploymentKind.rollback, .deploy])
    func aMoveBackPassesOnlyAcrossWhatOlderCodeRunsOn(_ kind: MigrationClass, operation: DeploymentKind) {
        let crossed = Self.migration("crm/0002_change", kind)
        let plain = Self.back(across: crossed, kind: operation)
        #expect(plain.passed == !kind.blocksRollback, "\(kind) \(operation): \(plain.detail)")
        #expect(plain.detail.contains("crm/0002_change (\(kind.rawValue)"))
        let acked = Self.back(across: crossed, acknowledged: ["crm/0002_change"], kind: operation)
        #expect(acked.passed, "an acknowledgement covers it: \(acked.detail)")
        let accepted = Self.back(across: crossed, accepted: "checked the column is unused", kind: operation)
        #expect(accepted.passed)
        if kind.blocksRollback { #expect(accepted.detail.contains("accepted with --accept-schema (checked the column is unused)")) }
    }

    @Test func aRefusalSaysWhatOlderCodeCannotRunOnAndWhatToDo() {
        let refused = Self.back(across: Self.migration("crm/0002_drop_email", .incompatible))
        #expect(!refused.passed)
        #expect(
            refused.detail
                == "leaves crm/0002_drop_email (incompatible: RemoveField contact.email) applied under the code of 1.0.0; the code of "
                + "1.0.0 cannot run on crm/0002_drop_email (incompatible: RemoveField contact.email). Roll forward with a fix, or, once "
                + "checked, `release migrations ack` it or pass --accept-schema --reason TEXT")
    }

    @Test func movesForwardPassAndListWhatTheyAdd() {
        let forward = PromotionGate.schema(
            SchemaMove(
                from: "1.0.0", to: "1.1.0", current: .some([Self.initial]),
                target: [Self.initial, Self.migration("crm/0002_drop_email", .incompatible)]), kind: .promote)
        #expect(forward.passed)
        #expect(forward.detail == "adds crm/0002_drop_email (incompatible: RemoveField contact.email)")
        let first = PromotionGate.schema(SchemaMove(from: nil, to: "1.0.0", current: .none, target: [Self.initial]), kind: .deploy)
        #expect(first.passed && first.detail == "adds crm/0001_initial (compatible)")
    }

    @Test func unrecordedReleasesAreUnknownAndOnlyARollbackIsRefusedForIt() {
        let unknown = SchemaMove(from: "1.1.0", to: "1.0.0", current: .some(nil), target: [Self.initial])
        #expect(unknown.removed == nil && unknown.uncovered == nil)
        let rollback = PromotionGate.schema(unknown, kind: .rollback)
        #expect(!rollback.passed && rollback.detail.hasPrefix("unknown: the migrations of 1.1.0 or 1.0.0 were never recorded"))
        #expect(PromotionGate.schema(unknown, kind: .promote).passed)
        var accepted = unknown
        accepted.acceptedReason = "both predate migrations:"
        #expect(PromotionGate.schema(accepted, kind: .rollback).passed)
    }

    @Test func theGateRunsOnlyWithMigrationsConfigured() throws {
        let environment = EnvironmentConfiguration(
            name: "main", provider: "command", providerSettings: ConfigReader(file: "release.yml", path: "", value: .null(line: 1)))
        let release = ReleaseRecord(
            id: 1, version: "1.0.0", commit: nil, artifact: nil, notes: nil, createdAt: Timestamp(microseconds: 0), createdBy: "alice")
        var context = GateContext(kind: .rollback, environment: environment, actor: "alice", now: Timestamp(microseconds: 0), release: release)
        #expect(!PromotionGate.evaluate(context).contains { $0.name == "schema" })
        context.schema = SchemaMove(from: "1.1.0", to: "1.0.0", current: .some([Self.initial]), target: [Self.initial])
        #expect(PromotionGate.evaluate(context).map(\.name) == ["allowed", "quarantine", "schema"])
    }
}
