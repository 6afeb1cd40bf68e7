import Foundation
import Postgres
import ReleaseCore
import ReleaseStore

extension Engine {
    /// `release create`: registers a release; the same call again is a no-op, the same version
    /// with other values an error.
    public func createRelease(
        version: String, commit: String?, artifact: String?,
        notes: String?
    ) async throws -> (release: ReleaseRecord, created: Bool) {
        let engine = self
        let app = self.app
        // Read from git before anything is stored: an unknown commit stores nothing (exit 2).
        var migrations: [MigrationRecord]?
        if let commit { migrations = try await recordMigrations(at: commit) }
        let recorded = migrations
        var details: [(String, JSONValue)] = []
        if let commit { details.append(("commit", .string(commit))) }
        if let artifact { details.append(("artifact", .string(artifact))) }
        let recordedDetails = migrations.map { migrations in
            let classes = MigrationClass.allCases.map { kind in
                (kind.rawValue, JSONValue.int(Int64(migrations.filter { $0.migrationClass == kind }.count)))
            }
            return JSONValue.object([("migrations", .int(Int64(migrations.count))), ("classes", .object(classes))])
        }
        let audited = JSONValue.object(details)
        let (release, appID, created) = try await database { db in
            try db.createRelease(
                app: app, version: version, commit: commit, artifact: artifact, notes: notes, by: engine.claimedActor,
                details: audited, migrations: recorded, migrationsDetails: recordedDetails)
        }
        if !created {
            var differences: [String] = []
            if let commit, commit != release.commit { differences.append("commit \(release.commit ?? "none")") }
            if let artifact, artifact != release.artifact { differences.append("artifact \(release.artifact ?? "none")") }
            if let notes, Secrets.redact(notes) != release.notes { differences.append("other notes") }  // stored without secrets
            if !differences.isEmpty {
                throw ReleaseError.usage(
                    "Release \(version) already exists with \(differences.joined(separator: " and ")). Versions are "
                        + "immutable: create a new version instead.")
            }
        }
        if created {
            await mark(.created, release: release, in: nil, appID: appID, message: "\(app) \(version) was created.")
        }
        return (release, created)
    }

    /// Releases, newest first.
    public func releases(limit: Int) async throws -> [ReleaseRecord] {
        let app = self.app
        return try await database { db in
            guard let appID = try db.appID(named: app) else { return [] }
            return try db.releases(app: appID, limit: limit)
        }
    }

    /// `release check`: records a CI check result.
    public func recordCheck(version: String, name: String, status: CheckStatus, url: String?) async throws {
        let (app, actor) = (self.app, claimedActor)
        var details: [(String, JSONValue)] = [("check", .string(name)), ("status", .string(status.rawValue))]
        if let url { details.append(("url", .string(Secrets.redact(url)))) }
        let audited = JSONValue.object(details)
        try await database { db in
            try db.recordCheck(app: app, version: version, name: name, status: status, url: url, by: actor, details: audited)
        }
    }

    /// `release approve`: records an approval of a version for an environment.
    public func approve(environment: EnvironmentConfiguration, version: String) async throws {
        let (app, actor) = (self.app, claimedActor)
        try await database { db in try db.approve(app: app, environment: environment.name, version: version, by: actor) }
    }

    /// `release reject`: quarantines a release for good. Returns the environments it is live on.
    public func reject(version: String, reason: String) async throws -> [String] {
        let engine = self
        let names = configuration.environments.map(\.name)
        return try await transaction { db in
            let (appID, release) = try engine.requireRelease(version, in: db)
            if release.isQuarantined {
                throw ReleaseError.usage("\(version) is already quarantined (\(release.quarantineReason ?? "no reason given")).")
            }
            try db.quarantine(release: release.id, reason: reason)
            try db.appendAudit(
                app: appID, actor: engine.claimedActor, action: "release.quarantined", environment: nil, version: version,
                details: .object([("reason", .string(reason))]))
            var liveOn: [String] = []
            for name in names {
                if let id = try db.environmentID(app: appID, named: name), try db.currentLive(environment: id)?.releaseID == release.id {
                    liveOn.append(name)
                }
            }
            return liveOn
        }
    }

    /// `release freeze`.
    public func freeze(environment: EnvironmentConfiguration, reason: String, until: Timestamp?) async throws {
        let engine = self
        let app = self.app
        try await transaction { db in
            if let until, until <= (try db.now()) {
                throw ReleaseError.usage("--until \(until) is in the past; give a future RFC 3339 time.")
            }
            let appID = try db.ensureApp(named: app)
            let environmentID = try db.ensureEnvironment(app: appID, named: environment.name)
            try db.insertFreeze(environment: environmentID, reason: reason, until: until, by: engine.claimedActor)
            try db.appendAudit(
                app: appID, actor: engine.claimedActor, action: "freeze.started", environment: environment.name, version: nil,
                details: .object([("reason", .string(reason)), ("until", .optional(until?.rfc3339))]))
        }
        await announceFreeze(
            "freeze.started", environment,
            message: "\(environment.name) is frozen by \(actor)\(until.map { " until \($0)" } ?? ""): \(reason). Deploys and "
                + "promotions wait; rollbacks do not.",
            reason: reason)
    }

    private func announceFreeze(_ action: String, _ environment: EnvironmentConfiguration, message: String, reason: String?) async {
        guard let observer else { return }
        await observer(
            OperationEvent(
                action: action, app: app, environment: environment.name, actor: actor, at: .now,
                reason: reason, message: message))
    }

    /// `release unfreeze`; returns how many freezes were lifted.
    public func unfreeze(environment: EnvironmentConfiguration) async throws -> Int {
        let engine = self
        let app = self.app
        let lifted = try await transaction { db in
            let appID = try db.ensureApp(named: app)
            let environmentID = try db.ensureEnvironment(app: appID, named: environment.name)
            let lifted = try db.liftFreezes(environment: environmentID, by: engine.claimedActor)
            if lifted > 0 {
                try db.appendAudit(
                    app: appID, actor: engine.claimedActor, action: "freeze.lifted", environment: environment.name,
                    version: nil, details: .object([("lifted", .int(Int64(lifted)))]))
            }
            return lifted
        }
        if lifted > 0 {
            await announceFreeze("freeze.lifted", environment, message: "\(actor) lifted the freeze on \(environment.name).", reason: nil)
        }
        return lifted
    }

    /// The release `version` and its app's id, in one statement; unknown: a usage error (22023,
    /// exit 2 once translated) saying how to find or make it.
    func requireRelease(_ version: String, in db: PostgresConnection) throws -> (Int64, ReleaseRecord) {
        try db.fetch(Reads.requireRelease(app: app, version: version))
    }
}
