import Postgres
import ReleaseCore

let releaseColumns = "id, version, commit_sha, artifact, notes, created_at, created_by, quarantined_at, quarantine_reason"

extension PostgresConnection {
    /// The release with this version, if registered.
    public func release(app: Int64, version: String) throws -> ReleaseRecord? {
        try fetch(Reads.release(app: app, version: version))
    }

    /// The release with this id.
    public func release(id: Int64) throws -> ReleaseRecord? {
        try fetch(Reads.release(id: id))
    }

    /// Registers a release. Its notes are stored without secrets; an artifact that holds one is
    /// refused, since the providers need it exactly as given and it must not be stored.
    public func insertRelease(
        app: Int64, version: String, commit: String?, artifact: String?,
        notes: String?, by actor: String
    ) throws -> ReleaseRecord {
        try Self.refuseCredential(in: artifact, of: version)
        guard
            let row = try query(
                """
                SELECT \(unsafeSQL: releaseColumns)
                FROM release_insert_release(\(app), \(version), \(commit), \(artifact), \(notes.map(Secrets.redact)), \(actor))
                """
            ).first
        else {
            throw PostgresError(kind: .decoding, message: "The release was not returned.")
        }
        return try row.releaseRecord()
    }

    /// `release create` in one call (`release_create`): the release and its audit event, and its
    /// migrations with theirs when recorded, registering the app on first use. Returns the release
    /// with `created` false, having written nothing, when the version exists; the caller compares.
    public func createRelease(
        app: String, version: String, commit: String?, artifact: String?, notes: String?, by actor: String, details: JSONValue,
        migrations: [MigrationRecord]?, migrationsDetails: JSONValue?
    ) throws -> (release: ReleaseRecord, appID: Int64, created: Bool) {
        try Self.refuseCredential(in: artifact, of: version)
        let records = migrations ?? []
        let recorded = migrations != nil
        guard
            let row = try query(
                """
                SELECT c.created, (c.release).*
                FROM release_create(\(app), \(version), \(commit), \(artifact), \(notes.map(Secrets.redact)), \(actor), \(details)::jsonb,
                    \(recorded ? records.map(\.id) : nil)::text[], \(records.map(\.path))::text[],
                    \(records.map(\.migrationClass.rawValue))::text[], \(records.map { $0.reversible ? "t" : "f" })::boolean[],
                    \(records.map(\.reason))::text[], \(migrationsDetails)::jsonb) c
                """
            ).first
        else {
            throw PostgresError(kind: .decoding, message: "The release was not returned.")
        }
        return (try row.releaseRecord(), try row.int64("app_id"), try row.bool("created"))
    }

    /// An artifact that holds a credential is refused: the providers need it exactly as given,
    /// and it must not be stored.
    static func refuseCredential(in artifact: String?, of version: String) throws {
        if let artifact, Secrets.redact(artifact) != artifact {
            throw ReleaseError.usage(
                "The artifact of \(version) holds a credential (\(Secrets.redact(artifact))), which must not be stored: "
                    + "give a location without it, such as a presigned URL.")
        }
    }

    /// `release check` in one call: records a CI check result of `version`, audited with
    /// `details`; an unknown version is a usage error (nothing written).
    public func recordCheck(
        app: String, version: String, name: String, status: CheckStatus, url: String?, by actor: String, details: JSONValue
    ) throws {
        try query(
            """
            SELECT release_record_check(\(app), \(version), \(name), \(status.rawValue), \(url.map(Secrets.redact)), \(actor),
                                        \(details)::jsonb)
            """)
    }

    /// `release approve` in one call: records an approval, audited; an unknown version is a usage
    /// error and a quarantined one refused (nothing written).
    public func approve(app: String, environment: String, version: String, by actor: String) throws {
        try query("SELECT release_approve(\(app), \(environment), \(version), \(actor))")
    }

    /// Releases, newest first.
    public func releases(app: Int64, limit: Int) throws -> [ReleaseRecord] {
        try query(
            """
            SELECT \(unsafeSQL: releaseColumns) FROM releases WHERE app_id = \(app) ORDER BY id DESC LIMIT \(limit)
            """
        ).map { try $0.releaseRecord() }
    }

    /// Marks a release quarantined; it can never be deployed or promoted again.
    public func quarantine(release: Int64, reason: String) throws {
        try query("SELECT release_quarantine(\(release), \(Secrets.redact(reason)))")
    }

    /// Lifts a release's quarantine (the database allows it to release_admin only); false when
    /// it was not quarantined.
    public func unquarantine(release: Int64) throws -> Bool {
        try query("SELECT release_unquarantine(\(release)) AS lifted").first?.bool("lifted") ?? false
    }

    /// Records a CI check result (its URL without secrets: a CI link may carry a token).
    public func recordCheck(release: Int64, name: String, status: CheckStatus, url: String?, by actor: String) throws {
        try query("SELECT release_insert_check(\(release), \(name), \(status.rawValue), \(url.map(Secrets.redact)), \(actor))")
    }

    /// Records an approval of a version for an environment.
    public func insertApproval(environment: Int64, release: Int64, approver: String) throws {
        try query("SELECT release_insert_approval(\(environment), \(release), \(approver))")
    }
}
