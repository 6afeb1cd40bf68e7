import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// Enforced identity through the binary, as a team uses it: people and a CI runner log in as
/// themselves (scram-sha-256 passwords), the owner maps them and switches enforcement on, and from
/// then on a forged name, a self-approval or someone `allowed:` leaves out gets nowhere.
@Suite struct IdentityEndToEndTests {
    /// Password logins in release_operator (and release_verified, which ops/pg makes prove who it
    /// is), by first name, each with the URL to log in; dropped afterwards.
    static func withLogins<T: Sendable>(
        _ harness: Harness, _ people: [String], _ body: ([String: (login: String, url: String)]) async throws -> T
    ) async throws -> T {
        let owner = try await PostgresConnection.connect(url: harness.databaseURL)
        defer { owner.close() }
        try owner.execute(
            script: "DO $$ BEGIN CREATE ROLE release_verified NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
        var logins: [String: (login: String, url: String)] = [:]
        for person in people {
            let login = "\(person)_\(UUID().uuidString.prefix(6).lowercased())"
            let password = UUID().uuidString
            try owner.execute(script: "CREATE ROLE \(login) LOGIN PASSWORD '\(password)' IN ROLE release_operator, release_verified")
            let url = harness.databaseURL.replacingOccurrences(of: "user=release", with: "user=\(login)") + "&password=\(password)"
            logins[person] = (login, url)
        }
        defer {
            for (login, _) in logins.values { try? owner.execute(script: "DROP OWNED BY \(login); DROP ROLE \(login)") }
        }
        return try await body(logins)
    }

    @Test func aTeamUnderEnforcedIdentityGetsNowhereWithForgedNamesOrSelfApprovals() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: "checks: [tests], approvals: 1, allowed: [alice, ci]"))
            try await Self.withLogins(harness, ["alice", "bob", "ci"]) { logins in
                /// `release ARGS` logged in as `person`, claiming nothing unless told.
                func run(_ person: String, _ arguments: [String], claiming extra: [String: String] = [:]) async throws -> Harness.Result {
                    let environment = ["RELEASE_ACTOR": "", "RELEASE_DATABASE_URL": logins[person]?.url ?? ""].merging(extra) { $1 }
                    return try await harness.run(arguments, environment: environment)
                }
                let owner = ["RELEASE_ACTOR": "olivia"]
                #expect(try await harness.run(["access", "status"], environment: owner).stdout.contains("claimed, not checked"))
                #expect(try await harness.run(["freeze", "develop", "--reason", "before enforcement"], environment: owner).status == 0)
                #expect(try await harness.run(["unfreeze", "develop"], environment: owner).status == 0)
                for (person, flags) in [("alice", [String]()), ("bob", []), ("ci", ["--automation", "--on-behalf"])] {
                    let login = logins[person]?.login ?? ""
                    let granted = try await harness.run(["access", "grant", login, "--as", person] + flags, environment: owner)
                    #expect(granted.status == 0, "\(granted)")
                }
                #expect(try await run("bob", ["access", "enforce"]).status == 3, "only an admin switches enforcement on")
                let enforced = try await harness.run(["access", "enforce"], environment: owner)
                #expect(enforced.status == 0, "\(enforced)")
                #expect(try await harness.run(["access", "status"], environment: owner).stdout.hasPrefix("Identity is enforced"))
                let whoami = try await run("ci", ["whoami", "--json"]).json
                #expect(whoami?["person"]?.stringValue == "ci" && whoami?["kind"]?.stringValue == "automation")

                // CI acts for alice: recorded as ci, on behalf of alice.
                let artifact = try harness.artifact("1.0.0")
                for arguments in [
                    ["create", "1.0.0", "--commit", "abc1234", "--artifact", artifact], ["deploy", "1.0.0", "develop"],
                    ["check", "1.0.0", "tests", "passed"],
                ] {
                    let result = try await run("ci", arguments, claiming: ["GITHUB_ACTOR": "alice"])
                    #expect(result.status == 0, "\(arguments): \(result)")
                }
                // A person forging a name is refused, with nothing recorded.
                let before = try await harness.snapshot()
                for claim in [["RELEASE_ACTOR": "alice"], ["GITHUB_ACTOR": "alice"]] {
                    let forged = try await run("bob", ["approve", "main", "1.0.0"], claiming: claim)
                    #expect(forged.status == 3 && forged.stderr.contains("is bob, not alice"), "\(forged)")
                }
                let flag = try await run("bob", ["approve", "main", "1.0.0", "--actor", "alice"])
                #expect(flag.status == 3, "\(flag)")
                #expect(try await harness.snapshot() == before, "a forged name records nothing")
                // Nor does psql, logged in as bob: the tables take no writes, the functions no forged names.
                for sql in [
                    "UPDATE releases SET quarantined_at = NULL", "INSERT INTO deployment_transitions VALUES ('failed', 'live')",
                    "DELETE FROM approvals", "SELECT release_insert_check(1, 'tests', 'passed', NULL, 'alice')",
                ] {
                    let psql = try RunningCommand.launch(TestDatabase.psql, ["-X", "-v", "ON_ERROR_STOP=1", "-c", sql, logins["bob"]?.url ?? ""])
                    let result = await psql.finish()
                    #expect(result.status != 0 && result.stderr.contains("ERROR"), "psql as bob: \(sql): \(result)")
                }
                #expect(try await harness.snapshot() == before, "psql changed nothing")

                // alice's approval does not count for a promotion CI runs on her behalf; bob may not promote.
                #expect(try await run("alice", ["approve", "main", "1.0.0"]).status == 0)
                let selfApproved = try await run("ci", ["promote", "develop", "main"], claiming: ["GITHUB_ACTOR": "alice"])
                #expect(selfApproved.status == 3 && selfApproved.stderr.contains("alice's own approval does not count"), "\(selfApproved)")
                let notAllowed = try await run("bob", ["promote", "develop", "main"])
                #expect(notAllowed.status == 3 && notAllowed.stderr.contains("bob may not operate on main"), "\(notAllowed)")
                #expect(try await run("ci", ["approve", "main", "1.0.0"]).status == 3, "an automation login never approves")

                // Editing release.yml changes nothing: the stored policy decides, and says so.
                try harness.writeConfig(harness.defaultConfig(mainGates: "checks: [tests]"))
                let edited = try await run("ci", ["promote", "develop", "main"], claiming: ["GITHUB_ACTOR": "alice"])
                #expect(edited.status == 3, "\(edited)")
                #expect(edited.stderr.contains("differs from the stored one in approvals, allowed"), "\(edited)")

                #expect(try await run("bob", ["approve", "main", "1.0.0"]).status == 0)
                let promoted = try await run("ci", ["promote", "develop", "main"], claiming: ["GITHUB_ACTOR": "alice", "RELEASE_STATS": "1"])
                #expect(promoted.status == 0, "\(promoted)")
                // Learning that identity is enforced costs two round trips: the refused first one, and
                // who the login is, who acts and the stored gates, in one.
                #expect(MainJobTests.roundTrips(promoted) == 5 + 2, "\(promoted.stderr)")
                let history = try await run("alice", ["history", "main", "--json"]).json?["deployments"]?.arrayValue?.first
                #expect(history?["by"]?.stringValue == "ci")
                #expect(history?["login"]?.stringValue == logins["ci"]?.login)
                #expect(history?["on_behalf_of"]?.stringValue == "alice")
                let table = try await run("alice", ["history", "main"]).stdout
                #expect(table.contains("ci for alice"), "\(table)")
                let audit = try await run("alice", ["audit"]).stdout
                #expect(audit.contains("olivia (claimed)"), "events before enforcement show their actor as claimed: \(audit)")
                // An admin changes the policy: release.yml first, then `policy apply` stores it.
                try harness.writeConfig(harness.defaultConfig(mainGates: "checks: [tests], approvals: 2, allowed: [alice, ci]"))
                let shown = try await harness.run(["policy", "show", "--json"], environment: owner).json
                let main = shown?["environments"]?.arrayValue?.first { $0["name"]?.stringValue == "main" }
                #expect(main?["release_yml_differs"] == .array([.string("approvals")]), "\(String(describing: shown))")
                #expect(try await run("bob", ["policy", "apply"]).status == 3, "only an admin stores the policy")
                let applied = try await harness.run(["policy", "apply"], environment: owner)
                #expect(applied.status == 0 && applied.stdout.contains("Stored the gates of main"), "\(applied)")
                let stored = try await harness.run(["policy", "show", "--json"], environment: owner).json
                #expect(stored?["environments"]?.arrayValue?.allSatisfy { $0["release_yml_differs"] == .array([]) } == true)
                #expect(try await run("alice", ["audit", "verify"]).status == 0)
            }
        }
    }
}
