import Postgres
import ReleaseCore

extension PostgresRow {
    /// A timestamptz column (the session runs in UTC with ISO output).
    func timestamp(_ column: String) throws -> Timestamp {
        let text = try string(column)
        guard let value = Timestamp(parsing: text) else {
            throw PostgresError(kind: .decoding, message: "Column \(column) is not a timestamp: \(text).")
        }
        return value
    }

    /// A nullable timestamptz column.
    func optionalTimestamp(_ column: String) throws -> Timestamp? {
        guard let text = try optionalString(column) else { return nil }
        guard let value = Timestamp(parsing: text) else {
            throw PostgresError(kind: .decoding, message: "Column \(column) is not a timestamp: \(text).")
        }
        return value
    }

    /// A jsonb column.
    func json(_ column: String) throws -> JSONValue {
        guard let text = try optionalString(column) else { return .null }
        guard let value = JSONValue(parsing: text) else {
            throw PostgresError(kind: .decoding, message: "Column \(column) is not JSON.")
        }
        return value
    }

    func releaseRecord(prefix: String = "") throws -> ReleaseRecord {
        ReleaseRecord(
            id: try int64("\(prefix)id"), version: try string("\(prefix)version"),
            commit: try optionalString("\(prefix)commit_sha"), artifact: try optionalString("\(prefix)artifact"),
            notes: try optionalString("\(prefix)notes"), createdAt: try timestamp("\(prefix)created_at"),
            createdBy: try string("\(prefix)created_by"), quarantinedAt: try optionalTimestamp("\(prefix)quarantined_at"),
            quarantineReason: try optionalString("\(prefix)quarantine_reason"))
    }

    func deploymentRecord() throws -> DeploymentRecord {
        let kindText = try string("kind")
        let stateText = try string("state")
        guard let kind = DeploymentKind(rawValue: kindText), let state = DeploymentState(rawValue: stateText) else {
            throw PostgresError(kind: .decoding, message: "Unknown deployment kind or state \(kindText)/\(stateText).")
        }
        return DeploymentRecord(
            id: try int64("id"), environment: try string("environment"), version: try string("version"),
            releaseID: try int64("release_id"), kind: kind, state: state, by: try string("actor"),
            startedAt: try timestamp("started_at"), finishedAt: try optionalTimestamp("finished_at"),
            operation: try json("operation"), liveReference: try json("live_reference"), verified: try bool("verified"),
            rollbackOf: try optionalInt64("rollback_of"), detail: try optionalString("detail"),
            leaseOwner: try optionalString("lease_owner"), leaseExpiresAt: try optionalTimestamp("lease_expires_at"),
            sourceDeploymentID: try optionalInt64("source_deployment_id"), reason: try optionalString("reason"),
            cutoverAt: try optionalTimestamp("cutover_at"), login: try optionalString("login"),
            onBehalfOf: try optionalString("on_behalf_of"), signalVerdict: try optionalString("verdict").flatMap(SignalOutcome.init(rawValue:)),
            acceptedAt: try optionalTimestamp("accepted_at"))
    }
}

extension Timestamp: PostgresEncodable {
    /// RFC 3339 with microseconds, which PostgreSQL parses exactly.
    public var postgresText: String { rfc3339 }
}

extension JSONValue: PostgresEncodable {
    /// Compact JSON text for jsonb parameters, with every secret (`Secrets`) taken out of its
    /// strings: audit details, provider references and anything added later are stored clean,
    /// and the audit chain's hash covers what is stored.
    public var postgresText: String { Secrets.redact(self).text }
}
