import Postgres
import ReleaseCore
import ReleaseStore

extension Engine {
    /// `release migrations show V`: the migrations recorded for a release; nil when none were
    /// recorded (created without `--commit`, or before `migrations:`).
    public func migrations(of version: String) async throws -> [MigrationRecord]? {
        let engine = self
        return try await database { db in
            let (_, release) = try engine.requireRelease(version, in: db)
            return try db.fetch(Reads.migrations(releases: [release.id]))[release.id] ?? nil
        }
    }

    /// `release migrations ack V MIGRATION --safe-back-to R --reason TEXT`: the expand/contract
    /// step; rollbacks to R and to any later release may then cross MIGRATION. Audited.
    public func acknowledge(migration: String, of version: String, safeBackTo target: String, reason: String) async throws {
        let engine = self
        try await transaction { db in
            let (appID, release) = try engine.requireRelease(version, in: db)
            let (_, safe) = try engine.requireRelease(target, in: db)
            guard let records = try db.fetch(Reads.migrations(releases: [release.id]))[release.id] ?? nil else {
                throw ReleaseError.usage("\(version) has no recorded migrations; there is nothing to acknowledge.")
            }
            guard let record = records.first(where: { $0.id == migration }) else {
                throw ReleaseError.usage(
                    "\(version) has no migration \(Identifier.shown(migration)); `release migrations show \(version)` lists its migrations.")
            }
            guard safe.id < release.id else {
                throw ReleaseError.usage("--safe-back-to names a release older than \(version), which \(target) is not.")
            }
            try db.ackMigration(release: release.id, migration: migration, safeBackTo: safe.id, reason: reason, by: engine.claimedActor)
            try db.appendAudit(
                app: appID, actor: engine.claimedActor, action: "migration.acknowledged", environment: nil, version: version,
                details: .object([
                    ("migration", .string(migration)), ("class", .string(record.migrationClass.rawValue)),
                    ("safe_back_to", .string(target)), ("reason", .string(Secrets.redact(reason))),
                ]))
        }
    }

    /// The audit event of a move that crossed migrations only `--accept-schema` let through.
    func auditAcceptedSchema(
        _ move: SchemaMove?, kind: DeploymentKind, deployment: Int64, app appID: Int64, environment: String, in db: PostgresConnection
    ) throws {
        guard let move, let reason = move.acceptedReason, move.uncovered?.isEmpty != true else { return }
        try db.appendAudit(
            app: appID, actor: claimedActor, action: "schema.accepted", environment: environment, version: move.to,
            details: .object([
                ("deployment", .int(deployment)), ("kind", .string(kind.rawValue)), ("from", .optional(move.from)),
                ("crossed", .string(move.uncovered.map(SchemaMove.listed) ?? "unknown migrations")), ("reason", .string(reason)),
            ]))
    }
}
