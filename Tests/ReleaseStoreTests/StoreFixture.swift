import Postgres
import ReleaseCore
import ReleaseStore
import ReleaseTestSupport

/// A migrated throwaway database with one app, two environments and two releases.
struct StoreFixture: Sendable {
    let connection: PostgresConnection
    let url: String
    let app: Int64
    let develop: Int64
    let main: Int64
    let first: ReleaseRecord
    let second: ReleaseRecord

    static func with<T: Sendable>(_ body: (StoreFixture) async throws -> T) async throws -> T {
        try await TestDatabase.with { url in
            let connection = try await PostgresConnection.connect(url: url)
            _ = try await Migrator().migrate(connection)
            let fixture = try await connection.run { db in
                let app = try db.ensureApp(named: "crm-api")
                let develop = try db.ensureEnvironment(app: app, named: "develop")
                let main = try db.ensureEnvironment(app: app, named: "main")
                let first = try db.insertRelease(app: app, version: "1.0.0", commit: "abc1234", artifact: "a1", notes: nil, by: "alice")
                let second = try db.insertRelease(app: app, version: "1.0.1", commit: "def5678", artifact: "a2", notes: nil, by: "alice")
                return StoreFixture(connection: connection, url: url, app: app, develop: develop, main: main, first: first, second: second)
            }
            let value = try await body(fixture)
            connection.close()
            return value
        }
    }

    /// Inserts a deployment and walks it to `verifying` with a cutover, as the engine does.
    func cutover(_ release: ReleaseRecord, in environment: Int64, kind: DeploymentKind = .deploy) async throws -> (id: Int64, since: Timestamp) {
        let app = self.app
        return try connection.transaction { db in
            let id = try db.insertDeployment(
                app: app, environment: environment, environmentName: "env", release: release.id,
                kind: kind, by: "alice", reason: nil)
            try db.transition(deployment: id, to: .gating)
            try db.transition(deployment: id, to: .deploying)
            let since = try db.cutover(deployment: id, environment: environment, release: release.id, liveReference: .object([]))
            return (id, since)
        }
    }
}
