import Hummingbird
import HummingbirdTesting
import Postgres
import ReleaseCore
import ReleaseDashboard
import ReleaseStore
import ReleaseTestSupport

/// A migrated throwaway database with a short history, as the engine leaves it:
///
/// crm-api: 1.0.0 deployed to develop and promoted to main; 1.0.1 deployed to develop, promoted
/// to main, failed its probe there and was rolled back to 1.0.0 (so main shows 1.0.1 in red on
/// the timeline); main frozen. billing: one deployment of 2.0.0 to production.
struct DashboardFixture: Sendable {
    let url: String
    let connection: PostgresConnection
    let app: Int64
    let develop: Int64
    let main: Int64
    /// The instant 1.0.1 went live on main, and the instant the rollback put 1.0.0 back.
    let failedCutover: Timestamp
    let rollbackCutover: Timestamp
    /// Notes and a check URL written to try the page's escaping.
    static let hostileNotes = "<img src=x onerror=alert(1)> & \"quotes\""
    static let hostileURL = "javascript:alert(document.cookie)"

    static func with<T: Sendable>(_ body: (DashboardFixture) async throws -> T) async throws -> T {
        try await TestDatabase.with { url in
            let connection = try await PostgresConnection.connect(url: url)
            defer { connection.close() }
            _ = try await Migrator().migrate(connection)
            let fixture = try await connection.run { db in try seed(db, url: url, connection: connection) }
            return try await body(fixture)
        }
    }

    private static func seed(_ db: PostgresConnection, url: String, connection: PostgresConnection) throws -> DashboardFixture {
        let app = try db.ensureApp(named: "crm-api")
        let develop = try db.ensureEnvironment(app: app, named: "develop")
        let main = try db.ensureEnvironment(app: app, named: "main")
        let first = try db.insertRelease(app: app, version: "1.0.0", commit: "3f2a9c1", artifact: "registry/crm:1.0.0", notes: nil, by: "alice")
        let second = try db.insertRelease(
            app: app, version: "1.0.1", commit: "9b7e2d4", artifact: "registry/crm:1.0.1",
            notes: hostileNotes, by: "alice")
        try db.transaction { tx in
            try tx.appendAudit(app: app, actor: "alice", action: "release.created", environment: nil, version: "1.0.0")
            try tx.appendAudit(app: app, actor: "alice", action: "release.created", environment: nil, version: "1.0.1")
            try tx.recordCheck(release: second.id, name: "tests", status: .passed, url: hostileURL, by: "ci")
            try tx.recordCheck(release: second.id, name: "lint", status: .passed, url: "https://ci.example.com/runs/7", by: "ci")
            try tx.insertApproval(environment: main, release: second.id, approver: "bob")
        }
        _ = try live(db, app: app, environment: develop, release: first, kind: .deploy, by: "alice")
        _ = try live(db, app: app, environment: main, release: first, kind: .promote, by: "alice")
        _ = try live(db, app: app, environment: develop, release: second, kind: .deploy, by: "alice")
        // 1.0.1 reaches main and fails its probe; the engine rolls back to 1.0.0.
        let (failed, failedCutover) = try went(db, app: app, environment: main, release: second, kind: .promote, by: "carol")
        try db.transaction { tx in
            try tx.record(
                SignalMeasurement(
                    deployment: failed, signal: "error-ratio", position: 0, monitor: .prometheus, enforcing: true,
                    window: SignalWindow(start: failedCutover, end: failedCutover.adding(.seconds(60))), query: "errors{version=\"1.0.1\"}",
                    value: 0.31, outcome: .fail, detail: "0.31 > 0.02", verdict: .fail, measurements: 2))
            try tx.transition(deployment: failed, to: .failed, detail: "not healthy within 2m: HTTP 503")
            try tx.appendAudit(app: app, actor: "carol", action: "promote.verification_failed", environment: "main", version: "1.0.1")
        }
        let (rollback, rollbackCutover) = try went(db, app: app, environment: main, release: first, kind: .rollback, by: "carol")
        try db.transaction { tx in
            try tx.markVerified(deployment: rollback, detail: "3 consecutive healthy answers")
            try tx.transition(deployment: failed, to: .rolledBack)
            try tx.insertFreeze(environment: main, reason: "incident 42", until: nil, by: "carol")
        }
        let billing = try db.ensureApp(named: "billing")
        let production = try db.ensureEnvironment(app: billing, named: "production")
        let invoice = try db.insertRelease(app: billing, version: "2.0.0", commit: nil, artifact: nil, notes: nil, by: "dave")
        _ = try live(db, app: billing, environment: production, release: invoice, kind: .deploy, by: "dave")
        return DashboardFixture(
            url: url, connection: connection, app: app, develop: develop, main: main,
            failedCutover: failedCutover, rollbackCutover: rollbackCutover)
    }

    /// A deployment walked to its cutover (verifying), with its audit events.
    static func went(
        _ db: PostgresConnection, app: Int64, environment: Int64, release: ReleaseRecord, kind: DeploymentKind,
        by actor: String
    ) throws -> (Int64, Timestamp) {
        try db.transaction { tx in
            let id = try tx.insertDeployment(
                app: app, environment: environment, environmentName: "", release: release.id,
                kind: kind, by: actor, reason: kind == .rollback ? "automatic rollback" : nil)
            try tx.transition(deployment: id, to: .gating)
            try tx.transition(deployment: id, to: .deploying)
            let since = try tx.cutover(deployment: id, environment: environment, release: release.id, liveReference: .object([]))
            try tx.appendAudit(app: app, actor: actor, action: "\(kind.rawValue).cutover", environment: nil, version: release.version)
            return (id, since)
        }
    }

    /// A deployment walked to live and verified.
    static func live(
        _ db: PostgresConnection, app: Int64, environment: Int64, release: ReleaseRecord, kind: DeploymentKind,
        by actor: String
    ) throws -> Int64 {
        let (id, _) = try went(db, app: app, environment: environment, release: release, kind: kind, by: actor)
        try db.transaction { tx in try tx.markVerified(deployment: id, detail: "3 consecutive healthy answers") }
        return id
    }

    /// Alters audit event `sequence` in place, as someone with the owner's rights could: what
    /// `audit verify` and the release pages must catch.
    func tamperWithAuditEvent(sequence: Int) async throws {
        try await connection.run { db in
            try db.execute(
                script: """
                    ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
                    UPDATE audit_events SET actor = 'mallory' WHERE sequence = \(sequence);
                    ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
                    """)
        }
    }

    /// The dashboard's application over this database.
    func application(token: String? = nil) -> some ApplicationProtocol {
        let dashboard = Dashboard(database: DashboardDatabase(url: url), configuration: nil, token: token)
        return Application(router: dashboard.router())
    }
}

extension TestResponse {
    /// The body as text.
    var text: String { String(buffer: body) }

    /// The body as JSON.
    func json() throws -> JSONValue {
        guard let value = JSONValue(parsing: text) else { throw TestSupportError("Not JSON: \(text)") }
        return value
    }
}
