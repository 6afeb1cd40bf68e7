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
        if let artifact, Secrets.redact(artifact) != artifact {
            throw ReleaseError.usage(
                "The artifact of \(version) holds a credential (\(Secrets.redact(artifact))), which must not be stored: "
                    + "give a location without it, such as a presigned URL.")
        }
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
