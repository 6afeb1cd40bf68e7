import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

/// `release diff A B`: what lies between two releases.
public struct ReleaseDiff: Sendable {
    /// The two releases, as recorded.
    public var from: ReleaseRecord
    public var to: ReleaseRecord
    /// The commits between them (nil: a release has no commit, or git cannot say).
    public var commits: GitRepository.CommitRange?
    /// Why `commits` is nil, in words.
    public var commitsUnknown: String?
    /// The migrations B has that A has not, and the ones A has that B has not (nil: unrecorded).
    public var added: [MigrationRecord]?
    public var removed: [MigrationRecord]?
}

extension Engine {
    /// The migrations at `commit` in the git repository of release.yml, classified; nil without
    /// `migrations:`. An unknown commit is a usage error (exit 2) before anything is stored.
    func recordMigrations(at commit: String) async throws -> [MigrationRecord]? {
        guard let migrations = configuration.migrations else { return nil }
        let repository = try await GitRepository.containing(configuration.file, environment: processEnvironment)
        let recorder = MigrationRecorder(
            configuration: migrations, repository: repository, matches: { MigrationPaths.matches($0, any: migrations.paths) },
            classify: Self.classifier(migrations.framework))
        return try await recorder.record(at: commit)
    }

    /// How a framework's migration files are classified.
    static func classifier(_ framework: MigrationsConfiguration.Framework) -> MigrationRecorder.Classify {
        switch framework {
        case .django: DjangoMigrationClassifier.classify
        case .generic:
            { path, _ in
                MigrationRecord(id: path, path: path, migrationClass: .unknown, reversible: false, reason: "not classified (framework: generic)")
            }
        }
    }

    /// `release diff A B`: the commits between two releases (git), and the migrations B adds and
    /// removes compared with A (their records).
    public func diff(from a: String, to b: String) async throws -> ReleaseDiff {
        let engine = self
        let (from, to, records) = try await database { db in
            let (_, from) = try engine.requireRelease(a, in: db)
            let (_, to) = try engine.requireRelease(b, in: db)
            return (from, to, try db.fetch(Reads.migrations(releases: [from.id, to.id])))
        }
        let move = SchemaMove(from: a, to: b, current: .some(records[from.id] ?? nil), target: records[to.id] ?? nil)
        var diff = ReleaseDiff(from: from, to: to, added: move.added, removed: move.removed)
        if let first = from.commit, let second = to.commit {
            let repository = try await GitRepository.containing(configuration.file, environment: processEnvironment)
            diff.commits = try await repository.commits(from: first, to: second)
        } else {
            diff.commitsUnknown = "\(from.commit == nil ? a : b) was created without --commit"
        }
        return diff
    }

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
