import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// Who may do what in the database, and secrets that never surface: an operator role runs the
/// whole flow, an auditor role reads and verifies but changes nothing, and planted secrets appear
/// in no output and no table.
@Suite struct AccessTests {
    /// A login role in one of the migration's group roles, dropped afterwards.
    static func withRole<T: Sendable>(_ harness: Harness, in group: String, _ body: (String) async throws -> T) async throws -> T {
        let name = "\(group.dropFirst("release_".count))_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try await PostgresConnection.connect(url: harness.databaseURL)
        _ = try admin.query(PostgresQuery(sql: "CREATE ROLE \(name) LOGIN IN ROLE \(group)"))
        let url = harness.databaseURL.replacingOccurrences(of: "user=release", with: "user=\(name)")
        do {
            let value = try await body(url)
            _ = try? admin.query(PostgresQuery(sql: "DROP ROLE \(name)"))
            admin.close()
            return value
        } catch {
            _ = try? admin.query(PostgresQuery(sql: "DROP ROLE \(name)"))
            admin.close()
            throw error
        }
    }

    @Test func anOperatorRunsEverythingAndAnAuditorOnlyReads() async throws {
        try await Harness.with { harness in
            #expect(harness.databaseURL.contains("user=release"), "the harness connects as the owner")
            try await Self.withRole(harness, in: "release_operator") { operatorURL in
                for arguments in [
                    ["migrate"], ["create", "1.0.0", "--commit", "abc1234", "--artifact", try harness.artifact("1.0.0")],
                    ["deploy", "1.0.0", "develop"], ["check", "1.0.0", "tests", "passed"],
                    ["promote", "develop", "main"], ["freeze", "main", "--reason", "audit week"], ["unfreeze", "main"],
                    ["create", "1.0.1", "--artifact", try harness.artifact("1.0.1")], ["deploy", "1.0.1", "develop"],
                    ["check", "1.0.1", "tests", "passed"], ["promote", "develop", "main"],
                    ["rollback", "main", "--reason", "operator drill"], ["reject", "1.0.1", "--reason", "drill"],
                ] {
                    let result = try await harness.run(arguments + ["--database-url", operatorURL])
                    #expect(result.status == 0, "release_operator: \(arguments): \(result)")
                }
            }
            try await Self.withRole(harness, in: "release_auditor") { auditorURL in
                for arguments in [
                    ["status"], ["history"], ["list"], ["audit"], ["audit", "verify"], ["audit", "--format", "csv"],
                    ["audit", "--at", "2030-01-01T00:00:00Z"],
                ] {
                    let result = try await harness.run(arguments + ["--database-url", auditorURL])
                    #expect(result.status == 0, "release_auditor: \(arguments): \(result)")
                }
                let before = try await harness.snapshot()
                for arguments in [
                    ["create", "9.9.9"], ["freeze", "main", "--reason", "x"], ["approve", "main", "1.0.0"],
                    ["check", "1.0.0", "lint", "passed"], ["rollback", "main", "--reason", "x", "--to", "1.0.0"],
                    ["reject", "1.0.0", "--reason", "x"],
                ] {
                    let result = try await harness.run(arguments + ["--database-url", auditorURL])
                    #expect(result.status == 2, "release_auditor may not \(arguments): \(result)")
                    #expect(result.stderr.contains("may not do this"), "\(result)")
                }
                #expect(try await harness.snapshot() == before, "the auditor changed nothing")
            }
        }
    }

    @Test func theAuditTrailStaysAppendOnlyEvenForItsOwner() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let owner = try await PostgresConnection.connect(url: harness.databaseURL)
            for statement in ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events", "TRUNCATE audit_events"] {
                #expect(throws: PostgresError.self, "\(statement)") {
                    _ = try owner.query(PostgresQuery(sql: statement))
                }
            }
            owner.close()
            #expect(try await harness.run("audit", "verify").status == 0)
        }
    }

    @Test func plantedSecretsAppearInNoOutputAndNoTable() async throws {
        try await Harness.with { harness in
            let planted = "PLANTED-\(UUID().uuidString)"
            let secrets = [
                "HEROKU_API_KEY": planted + "-heroku", "RAILWAY_API_TOKEN": planted + "-railway",
                "DIGITALOCEAN_ACCESS_TOKEN": planted + "-do", "AWS_SECRET_ACCESS_KEY": planted + "-aws",
                "AWS_SESSION_TOKEN": planted + "-session", "GITHUB_TOKEN": planted + "-github",
                "RELEASE_LOG_LEVEL": "trace",
            ]
            harness.environment.merge(secrets) { $1 }
            try harness.writeConfig(
                harness.defaultConfig(mainGates: "") + """
                    notify:
                      webhooks: [{url: "http://127.0.0.1:9/hooks/\(planted)-webhook"}]
                      github_issues: {repo: acme/crm-api}

                    """)
            var outputs: [String] = []
            let withPassword = harness.databaseURL + "&password=\(planted)-pg"
            for arguments in [
                ["create", "1.0.0", "--artifact", try harness.artifact("1.0.0")], ["deploy", "1.0.0", "develop"],
                ["promote", "develop", "main"],
                ["create", "1.0.1", "--artifact", try harness.artifact("1.0.1", health: "broken-on=main")],
                ["deploy", "1.0.1", "develop"], ["promote", "develop", "main"], ["freeze", "main", "--reason", "x"],
                ["status"], ["history", "--json"], ["audit", "--format", "json"], ["audit", "verify"], ["probe"],
            ] {
                let result = try await harness.run(arguments + ["--database-url", withPassword])
                outputs.append(result.output)
            }
            let unreachable = try await harness.run(["status", "--database-url", "postgresql://crm:\(planted)-pg@127.0.0.1:1/release"])
            #expect(unreachable.status == 5)
            outputs.append(unreachable.output)
            #expect(outputs.joined().contains("Warning: the notification"), "the webhook was tried")
            for (index, output) in outputs.enumerated() {
                #expect(!output.contains(planted), "command \(index) printed a planted secret:\n\(output)")
            }
            let connection = try await PostgresConnection.connect(url: harness.databaseURL)
            for table in [
                "apps", "environments", "releases", "checks", "approvals", "deployments", "deployment_transitions",
                "occupancy", "freezes", "audit_events",
            ] {
                let rows = try connection.query(PostgresQuery(sql: "SELECT count(*) AS n FROM \(table) t WHERE t::text LIKE '%PLANTED-%'"))
                #expect(try rows.first?.int("n") == 0, "\(table) holds a planted secret")
            }
            connection.close()
        }
    }

    @Test func aSecretADeployScriptEchoesIsNeitherShownNorStoredNorSent() async throws {
        try await Harness.with { harness in
            let script = harness.directory + "/deploy-with-token.sh"
            try """
            #!/bin/sh
            echo "logging in with $DEPLOY_TOKEN"
            echo "the registry refused $DEPLOY_TOKEN" >&2
            exit 1

            """.write(toFile: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
            #expect(try await harness.run("create", "1.0.0").status == 0)
            let token = "dt-\(UUID().uuidString)"
            let failed = try await harness.failingDeployLeavesNoSecret(
                config: """
                    app: crm-api
                    environments:
                      develop:
                        provider: command
                        command: {deploy: \(script), timeout: 1m}

                    """, environment: ["DEPLOY_TOKEN": token], secrets: ["DEPLOY_TOKEN": token])
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("the registry refused ***"), "the script's output is shown, hidden: \(failed)")
        }
    }

    @Test func anArtifactHoldingASecretIsRefusedAndNothingIsStored() async throws {
        try await Harness.with { harness in
            let token = "ghp_\(UUID().uuidString)"
            let before = try await harness.snapshot()
            let refused = try await harness.run(
                ["create", "1.0.0", "--artifact", "https://x-access-token:\(token)@example.com/a.tar.gz"],
                environment: ["GITHUB_TOKEN": token])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.stderr.contains("holds a credential (https://x-access-token:***@example.com/a.tar.gz)"), "\(refused)")
            #expect(!refused.output.contains(token))
            #expect(try await harness.snapshot() == before, "nothing is stored")
        }
    }
}
