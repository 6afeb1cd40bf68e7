import Foundation
import Postgres
import ReleaseCore
import ReleaseStore
import ReleaseTestSupport
import Testing

/// Who a connection is comes from PostgreSQL's session_user, and only an admin changes the login
/// map and the stored policy: the database refuses anyone else, whatever they send it.
@Suite struct IdentityTests {
    /// A login under test: its name, a connection, and the URL (password included) for more.
    struct Login: Sendable {
        let name: String
        let connection: PostgresConnection
        let url: String
    }

    /// A fresh login in `group` (cluster-wide, so uniquely named) that proves who it is with a
    /// password (scram-sha-256, as ops/pg sets up for release_verified, never trust), connected to
    /// the fixture's database, and dropped afterwards.
    static func withLogin<T: Sendable>(in group: String, _ fixture: StoreFixture, _ body: (Login) async throws -> T) async throws -> T {
        let name = "\(group.dropFirst("release_".count))_\(UUID().uuidString.prefix(8).lowercased())"
        let password = UUID().uuidString
        _ = try fixture.connection.query(
            """
            DO $$ BEGIN CREATE ROLE release_verified NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
            """)
        _ = try fixture.connection.query(
            PostgresQuery(sql: "CREATE ROLE \(name) LOGIN PASSWORD '\(password)' IN ROLE \(group), release_verified"))
        defer { try? fixture.connection.execute(script: "DROP OWNED BY \(name); DROP ROLE \(name)") }
        let url = fixture.url.replacingOccurrences(of: "user=release", with: "user=\(name)")
        let refused = await #expect(throws: PostgresError.self, "a person under test never logs in without a password") {
            try await PostgresConnection.connect(url: url).close()
        }
        #expect(refused?.message.contains("password") == true)
        let login = try await PostgresConnection.connect(url: url + "&password=\(password)")
        defer { login.close() }
        return try await body(Login(name: name, connection: login, url: url + "&password=\(password)"))
    }

    /// Every row the access tables hold, and the audit trail's length, as text.
    static func accessState(_ db: PostgresConnection) throws -> [String] {
        try [
            "SELECT login || ':' || person || ':' || automation || ':' || on_behalf AS row FROM access_logins ORDER BY login",
            "SELECT e.name || ':' || p.gates::text AS row FROM policies p JOIN environments e ON e.id = p.environment_id ORDER BY 1",
            "SELECT enforced_by AS row FROM access_enforcement",
            "SELECT count(*)::text AS row FROM audit_events",
        ].flatMap { sql in try db.query(PostgresQuery(sql: sql)).map { try $0.string("row") } }
    }

    @Test func theOwnerIsAnAdminAndEachLoginIsItsOwnPersonUntilMapped() async throws {
        try await StoreFixture.with { fixture in
            let owner = try fixture.connection.whoami()
            #expect(owner == Identity(login: "release", person: "release", automation: false, onBehalf: false, admin: true, enforced: false))
            try await Self.withLogin(in: "release_operator", fixture) { person in
                let (name, login) = (person.name, person.connection)
                #expect(try login.whoami().person == name)
                #expect(try login.whoami().admin == false)
                try fixture.connection.grantAccess(app: "crm-api", login: name, person: "alice", automation: false, onBehalf: false)
                #expect(try login.whoami().person == "alice")
                #expect(try fixture.connection.revokeAccess(app: "crm-api", login: name))
                #expect(try login.whoami().person == name)
                #expect(try fixture.connection.revokeAccess(app: "crm-api", login: name) == false, "nothing left to revoke")
            }
            let actions = try fixture.connection.query("SELECT action, actor FROM audit_events ORDER BY sequence").map {
                "\(try $0.string("actor")) \(try $0.string("action"))"
            }
            #expect(actions == ["release access.granted", "release access.revoked"])
        }
    }

    @Test func anOperatorCannotChangeTheLoginMapOrThePolicyByAnyRoute() async throws {
        try await StoreFixture.with { fixture in
            _ = try fixture.connection.applyPolicy(
                app: "crm-api", policy: .object([("main", .object([("gates", .object([("approvals", .string("1"))]))]))]))
            let before = try Self.accessState(fixture.connection)
            try await Self.withLogin(in: "release_operator", fixture) { person in
                let (name, login) = (person.name, person.connection)
                let attempts = [
                    "SELECT release_access_grant('crm-api', '\(name)', 'alice', false, false)",
                    "SELECT release_access_revoke('crm-api', 'release')",
                    "SELECT release_policy_apply('crm-api', '{\"main\": {}}')",
                    "INSERT INTO access_logins (login, person, granted_by) VALUES ('\(name)', 'alice', 'alice')",
                    "UPDATE policies SET gates = '{}'",
                    "DELETE FROM policies",
                    "TRUNCATE access_logins",
                    "INSERT INTO access_enforcement (enforced_by) VALUES ('\(name)')",
                    "SET ROLE release_owner",
                    "SET SESSION AUTHORIZATION release",
                    "CREATE TABLE public.access_logins_shadow (login text)",
                ]
                for sql in attempts {
                    #expect(throws: PostgresError.self, "\(sql)") { _ = try login.query(PostgresQuery(sql: sql)) }
                }
                // A temporary table named like a real one does not fool the functions: pg_temp is last.
                _ = try login.query("CREATE TEMPORARY TABLE access_logins (login text, person text, automation boolean, on_behalf boolean)")
                _ = try login.query(PostgresQuery(sql: "INSERT INTO pg_temp.access_logins VALUES ('\(name)', 'release', false, false)"))
                #expect(try login.whoami().admin == false)
                #expect(try login.whoami().person == name)
                let refusal = #expect(throws: PostgresError.self) {
                    try login.grantAccess(app: "crm-api", login: name, person: "alice", automation: false, onBehalf: false)
                }
                #expect(refusal?.sqlState == "RA001")
                #expect(refusal.map { DatabaseFailure.translate($0).code } == .refused)
            }
            try await Self.withLogin(in: "release_auditor", fixture) { person in
                let login = person.connection
                #expect(throws: PostgresError.self) { _ = try login.query("SELECT release_policy_apply('crm-api', '{}')") }
                #expect(throws: PostgresError.self) { _ = try login.query("DELETE FROM access_logins") }
                let auditor = try login.whoami()
                #expect(auditor.enforced == false && auditor.admin == false, "an auditor may still ask who it is")
            }
            #expect(try Self.accessState(fixture.connection) == before, "nothing changed")
        }
    }

    @Test func anAdminGroupMemberMayChangeThePolicyAndOnlyChangesAreRecorded() async throws {
        try await StoreFixture.with { fixture in
            try await Self.withLogin(in: "release_operator", fixture) { person in
                let (name, login) = (person.name, person.connection)
                _ = try fixture.connection.query(PostgresQuery(sql: "GRANT release_admin TO \(name)"))
                try fixture.connection.grantAccess(app: "crm-api", login: name, person: "carol", automation: false, onBehalf: false)
                let main = JSONValue.object([("approvals", .string("2")), ("allowed", .array([.string("carol")]))])
                let policy = JSONValue.object([
                    ("develop", .object([("gates", .object([]))])),
                    ("main", .object([("gates", main), ("promote_from", .string("develop"))])),
                ])
                #expect(try login.applyPolicy(app: "crm-api", policy: policy) == ["develop", "main"])
                #expect(try login.applyPolicy(app: "crm-api", policy: policy) == [], "the same policy again changes nothing")
                let stored = try login.fetch(Reads.storedPolicies(app: "crm-api"))
                #expect(stored.map(\.environment) == ["develop", "main"])
                #expect(stored.allSatisfy { $0.appliedBy == "carol" }, "recorded under the verified person")
                let gates = try stored[1].gatePolicy()
                #expect(gates.approvals == 2 && gates.allowed == ["carol"] && stored[1].promoteFrom == "develop")
                let audit = try fixture.connection.query("SELECT actor, action FROM audit_events WHERE action = 'policy.applied'")
                #expect(audit.count == 1)
                #expect(try audit.first?.string("actor") == "carol")
            }
        }
    }

    @Test func onlyAnAutomationLoginMayActOnBehalfOfOthers() async throws {
        try await StoreFixture.with { fixture in
            let refusal = #expect(throws: PostgresError.self) {
                try fixture.connection.grantAccess(app: "crm-api", login: "someone", person: "someone", automation: false, onBehalf: true)
            }
            #expect(refusal.map { DatabaseFailure.translate($0).code } == .usage)
            let mappings = try fixture.connection.loginMappings()
            #expect(mappings.isEmpty)
        }
    }
}
