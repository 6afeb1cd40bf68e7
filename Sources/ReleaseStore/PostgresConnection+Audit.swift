import Postgres
import ReleaseCore

let auditSelect = """
    SELECT a.id, p.name AS app, a.sequence, a.at, a.actor, a.action, a.environment, a.version, a.details::text AS details,
           a.previous_hash, a.hash, a.login, a.on_behalf_of
    FROM audit_events a JOIN apps p ON p.id = a.app_id
    """

/// An audit event to append, for statements that write one beside something else.
public struct AuditEntry: Sendable {
    public var app: Int64
    public var actor: String
    public var action: String
    public var environment: String?
    public var version: String?
    public var details: JSONValue

    /// Creates an entry.
    public init(app: Int64, actor: String, action: String, environment: String?, version: String?, details: JSONValue) {
        self.app = app
        self.actor = actor
        self.action = action
        self.environment = environment
        self.version = version
        self.details = details
    }
}

extension PostgresConnection {
    /// Appends an event; the database fills in the sequence, the time and the hash chain.
    public func appendAudit(
        app: Int64, actor: String, action: String, environment: String?, version: String?,
        details: JSONValue = .object([])
    ) throws {
        try enqueue("SELECT release_append_audit(\(app), \(actor), \(action), \(environment), \(version), \(details)::jsonb)")
    }

    /// Events in time order, filtered: the latest `limit` of them, or all.
    public func auditEvents(app: AppRef, environment: String?, since: Timestamp?, until: Timestamp?, limit: Int?) throws -> [AuditEvent] {
        try fetch(Reads.latestAuditEvents(app: app, environment: environment, since: since, until: until, limit: limit))
    }

    /// A batch of the chain after `sequence`, for verification.
    public func auditChain(app: Int64, after sequence: Int64, limit: Int) throws -> [AuditEvent] {
        try auditChainRows(app: app, after: sequence, limit: limit).map(Self.auditEvent)
    }

    /// The same batch undecoded (`auditEvent(_:)` decodes a row), so that a caller can ask for the
    /// next batch before decoding this one.
    public func auditChainRows(app: Int64, after sequence: Int64, limit: Int) throws -> [PostgresRow] {
        try query(
            """
            \(unsafeSQL: auditSelect) WHERE a.app_id = \(app) AND a.sequence > \(sequence) ORDER BY a.sequence LIMIT \(limit)
            """)
    }

    /// The app's recorded chain head: how many events and the last hash.
    public func auditHead(app: Int64) throws -> (count: Int64, hash: String?) {
        try fetch(Reads.auditHead(app: app))
    }

    /// One event from a row of the audit queries.
    public static func auditEvent(_ row: PostgresRow) throws -> AuditEvent {
        AuditEvent(
            id: try row.int64("id"), app: try row.string("app"), sequence: try row.int64("sequence"), at: try row.timestamp("at"),
            actor: try row.string("actor"), action: try row.string("action"), environment: try row.optionalString("environment"),
            version: try row.optionalString("version"), details: try row.string("details"),
            previousHash: try row.optionalString("previous_hash"), hash: try row.string("hash"), login: try row.optionalString("login"),
            onBehalfOf: try row.optionalString("on_behalf_of"))
    }
}
