import Foundation
import Postgres
import ReleaseCore
import ReleaseStore
import ReleaseTestSupport
import Testing

/// With identity enforced, the database's own functions are the only way to change anything, and
/// they hold the rules against someone with a psql prompt: every attack below is refused with
/// nothing changed, and the rules count verified persons only.
@Suite struct EnforcementTests {
    /// main needs one approval and allows only alice and the CI login's person; it takes deploys,
    /// so that one table of rules can be tried with plain deploys (`promote_from` has its own test).
    static let policy = JSONValue.object([
        ("develop", .object([("gates", .object([]))])),
        ("main", .object([("gates", .object([("approvals", .string("1")), ("allowed", .array([.string("alice"), .string("ci")]))]))])),
    ])

    /// The logins of the people in these tests, each mapped to its person.
    struct People: Sendable {
        let alice: PostgresConnection
        let bob: PostgresConnection
        let ci: PostgresConnection
        let auditor: PostgresConnection
        let bobLogin: String
        let bobURL: String
    }

    /// alice and bob (operators), ci (an automation operator that may act for others) and an
    /// auditor, mapped by the owner, who then switches enforcement on.
    static func withPeople<T: Sendable>(
        _ fixture: StoreFixture, policy: JSONValue = policy, _ body: (People) async throws -> T
    ) async throws -> T {
        try await IdentityTests.withLogin(in: "release_operator", fixture) { alice in
            try await IdentityTests.withLogin(in: "release_operator", fixture) { bob in
                try await IdentityTests.withLogin(in: "release_operator", fixture) { ci in
                    try await IdentityTests.withLogin(in: "release_auditor", fixture) { auditor in
                        let owner = fixture.connection
                        try owner.grantAccess(app: "crm-api", login: alice.name, person: "alice", automation: false, onBehalf: false)
                        try owner.grantAccess(app: "crm-api", login: bob.name, person: "bob", automation: false, onBehalf: false)
                        try owner.grantAccess(app: "crm-api", login: ci.name, person: "ci", automation: true, onBehalf: true)
                        try owner.grantAccess(app: "crm-api", login: auditor.name, person: "dora", automation: false, onBehalf: false)
                        #expect(try owner.enforceAccess(app: "crm-api", ownerPerson: "olivia", policy: policy))
                        #expect(try owner.enforceAccess(app: "crm-api", ownerPerson: "olivia", policy: policy) == false, "once")
                        return try await body(
                            People(
                                alice: alice.connection, bob: bob.connection, ci: ci.connection, auditor: auditor.connection,
                                bobLogin: bob.name, bobURL: bob.url))
                    }
                }
            }
        }
    }

    /// Every table's rows, as text: what "nothing changed" compares.
    static func snapshot(_ db: PostgresConnection) throws -> [String] {
        let tables = try db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").map {
            try $0.string("tablename")
        }
        return try tables.map { table in
            let row = try db.query(
                PostgresQuery(
                    sql: "SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS h FROM \(table) t"))
            return "\(table)=\(try row.first?.string("h") ?? "")"
        }
    }

    /// The SQLSTATE `sql` fails with, as `login`; nil when it succeeds.
    static func refusal(_ login: PostgresConnection, _ sql: String) -> String? {
        do {
            _ = try login.query(PostgresQuery(sql: sql))
            return nil
        } catch let error as PostgresError {
            return error.sqlState ?? "?"
        } catch {
            return "?"
        }
    }

    /// Starts a deployment of `release` into `environment` and moves it past its gates, as
    /// `login` claiming `claim`, in one transaction; the SQLSTATE it was refused with, or nil.
    static func deploy(
        _ login: PostgresConnection, _ fixture: StoreFixture, release: Int64, into environment: Int64, claiming claim: String? = nil
    ) -> String? {
        do {
            try login.transaction { tx in
                let id = try tx.insertDeployment(
                    app: fixture.app, environment: environment, environmentName: "main", release: release, kind: .deploy,
                    by: claim ?? "", reason: nil)
                try tx.transition(deployment: id, to: .gating)
                try tx.transition(deployment: id, to: .deploying)
            }
            return nil
        } catch let error as PostgresError {
            return error.sqlState ?? "?"
        } catch {
            return "?"
        }
    }

    @Test func anOperatorWithAPsqlPromptChangesNothing() async throws {
        try await StoreFixture.with { fixture in
            try await Self.withPeople(fixture) { people in
                try fixture.connection.quarantine(release: fixture.second.id, reason: "broken")
                let before = try Self.snapshot(fixture.connection)
                let tables = try fixture.connection.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").map {
                    try $0.string("tablename")
                }
                var attacks: [String] = tables.flatMap { table in
                    [
                        "INSERT INTO \(table) DEFAULT VALUES", "DELETE FROM \(table)", "TRUNCATE \(table)",
                        "UPDATE \(table) SET ctid = ctid",
                        "CREATE TRIGGER sneaky BEFORE INSERT ON \(table) FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()",
                    ]
                }
                attacks += [
                    "UPDATE releases SET quarantined_at = NULL, quarantine_reason = NULL",
                    "INSERT INTO deployment_transitions (from_state, to_state) VALUES ('failed', 'live')",
                    "UPDATE deployments SET actor = 'alice'",
                    "SELECT nextval(pg_get_serial_sequence('deployments', 'id'))",
                    "SET ROLE release_owner", "SET ROLE release_admin", "SET SESSION AUTHORIZATION release",
                    // The functions take no name that counts: a forged one is refused.
                    "SELECT release_insert_approval(\(fixture.main), \(fixture.first.id), 'alice')",
                    "SELECT release_insert_deployment(\(fixture.app), \(fixture.main), \(fixture.first.id), 'deploy', 'alice', NULL, NULL, NULL)",
                    "SELECT release_unquarantine(\(fixture.second.id))",
                    "SELECT release_access_grant('crm-api', '\(people.bobLogin)', 'alice', false, false)",
                    "SELECT release_policy_apply('crm-api', '{\"main\": {}}')",
                    "SELECT release_access_enforce('crm-api', 'bob', '{}')",
                    // Nothing new in the schema the functions search.
                    "CREATE TABLE public.access_logins_copy (login text)",
                    "CREATE FUNCTION public.release_whoami_copy() RETURNS text LANGUAGE sql AS 'SELECT 1::text'",
                ]
                for sql in attacks {
                    #expect(Self.refusal(people.bob, sql) != nil, "bob: \(sql)")
                }
                #expect(Self.deploy(people.bob, fixture, release: fixture.first.id, into: fixture.main) == "RA001", "bob is not allowed")
                // A temporary table named like a real one, searched first, does not fool the functions.
                _ = try people.bob.query("CREATE TEMPORARY TABLE access_logins (login text, person text, automation boolean, on_behalf boolean)")
                _ = try people.bob.query(PostgresQuery(sql: "INSERT INTO pg_temp.access_logins VALUES ('\(people.bobLogin)', 'alice', false, false)"))
                _ = try people.bob.query("SET search_path = pg_temp, public")
                #expect(try people.bob.whoami().person == "bob")
                #expect(Self.refusal(people.bob, "SELECT release_insert_approval(\(fixture.main), \(fixture.first.id), 'alice')") == "RA001")
                for sql in attacks + [
                    "SELECT release_insert_check(\(fixture.first.id), 'tests', 'passed', NULL, NULL)",
                    "SELECT release_append_audit(\(fixture.app), NULL, 'forged', NULL, NULL, '{}')",
                ] {
                    #expect(Self.refusal(people.auditor, sql) != nil, "the auditor: \(sql)")
                }
                #expect(try Self.snapshot(fixture.connection) == before, "nothing changed")
            }
        }
    }

    @Test func theRulesCountVerifiedPersonsOnly() async throws {
        try await StoreFixture.with { fixture in
            try await Self.withPeople(fixture) { people in
                func deploy(_ login: PostgresConnection, claiming claim: String? = nil) -> String? {
                    Self.deploy(login, fixture, release: fixture.first.id, into: fixture.main, claiming: claim)
                }
                #expect(deploy(people.bob) == "RA001", "bob is not allowed on main")
                try people.alice.insertApproval(environment: fixture.main, release: fixture.first.id, approver: "alice")
                #expect(deploy(people.alice) == "RA001", "alice's own approval does not count")
                #expect(Self.refusal(people.ci, "SELECT release_insert_approval(\(fixture.main), \(fixture.first.id), NULL)") == "RA001")
                #expect(deploy(people.ci, claiming: "alice") == "RA001", "the person CI acts for does not approve their own deploy")
                // Ten approvals by bob at once are one approval, and it counts for CI acting for alice.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<10 {
                        group.addTask {
                            let bob = try await PostgresConnection.connect(url: people.bobURL)
                            defer { bob.close() }
                            try await bob.run { db in try db.insertApproval(environment: fixture.main, release: fixture.first.id, approver: "bob") }
                        }
                    }
                    try await group.waitForAll()
                }
                let approvers = try fixture.connection.fetch(Reads.approvers(environment: fixture.main, release: fixture.first.id, since: nil))
                #expect(approvers == ["alice", "bob"])
                #expect(deploy(people.ci, claiming: "alice") == nil)
                let recorded = try fixture.connection.query(
                    "SELECT actor, login, on_behalf_of FROM deployments WHERE environment_id = \(fixture.main)")
                #expect(try recorded.map { "\(try $0.string("actor")) for \(try $0.string("on_behalf_of"))" } == ["ci for alice"])
                let audit = try fixture.connection.auditChain(app: fixture.app, after: 0, limit: 1000)
                var verifier = AuditChainVerifier()
                for event in audit { verifier.check(event) }
                #expect(verifier.problem == nil)
                #expect(audit.contains { $0.action == "access.enforced" && $0.login == "release" })
            }
        }
    }

    @Test func onlyAnAdminLiftsAQuarantine() async throws {
        try await StoreFixture.with { fixture in
            try await Self.withPeople(fixture) { people in
                try people.bob.quarantine(release: fixture.first.id, reason: "broken")
                #expect(Self.refusal(people.bob, "SELECT release_unquarantine(\(fixture.first.id))") == "RA001")
                try people.alice.insertApproval(environment: fixture.main, release: fixture.first.id, approver: "alice")
                try people.bob.insertApproval(environment: fixture.main, release: fixture.first.id, approver: "bob")
                #expect(
                    Self.deploy(people.alice, fixture, release: fixture.first.id, into: fixture.main) == "RA001",
                    "a quarantined release is never deployed")
                #expect(try fixture.connection.unquarantine(release: fixture.first.id))
                #expect(try fixture.connection.release(id: fixture.first.id)?.isQuarantined == false)
            }
        }
    }

    @Test func anEnvironmentThatTakesPromotionsTakesNoDeploys() async throws {
        try await StoreFixture.with { fixture in
            let policy = JSONValue.object([
                ("develop", .object([("gates", .object([]))])),
                ("main", .object([("gates", .object([])), ("promote_from", .string("develop"))])),
            ])
            try await Self.withPeople(fixture, policy: policy) { people in
                let before = try Self.snapshot(fixture.connection)
                #expect(Self.deploy(people.alice, fixture, release: fixture.first.id, into: fixture.main) == "RA001")
                #expect(try Self.snapshot(fixture.connection) == before)
                #expect(Self.deploy(people.alice, fixture, release: fixture.first.id, into: fixture.develop) == nil, "develop takes deploys")
            }
        }
    }
}
