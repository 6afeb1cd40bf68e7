import Foundation
import ReleaseCore
import Testing

/// The main job, run with the built binary against the demo app: deploy, gates, promotion,
/// a failed verification with its automatic rollback, and the record of all of it.
@Suite struct MainJobTests {
    @Test func promoteTheSameArtifactThenRollBackByItselfWhenMainIsUnhealthy() async throws {
        try await Harness.with { harness in
            let good = try harness.artifact("1.0.0")
            #expect(try await harness.run("create", "1.0.0", "--commit", "abc1234", "--artifact", good).status == 0)
            let deploy = try await harness.run("deploy", "1.0.0", "develop")
            #expect(deploy.status == 0, "\(deploy)")
            #expect(try await harness.served("develop") == "1.0.0")

            // The checks gate refuses until CI reports, and the refusal is recorded, not half-done.
            let refused = try await harness.run("promote", "develop", "main")
            #expect(refused.status == 3)
            #expect(refused.stderr.contains("checks: tests missing"))
            #expect(try await harness.served("main") == "none", "nothing was deployed to main")

            #expect(try await harness.run("check", "1.0.0", "tests", "passed").status == 0)
            let promoted = try await harness.run(["promote", "develop", "main", "--json"], environment: ["RELEASE_STATS": "1"])
            #expect(promoted.status == 0, "\(promoted)")
            #expect(promoted.json?["deployment"]?["state"]?.stringValue == "live")
            #expect(try await harness.served("main") == "1.0.0")
            #expect(Self.roundTrips(promoted) == 5, "the probe's verdict is recorded with the deployment's: \(promoted.stderr)")

            let status = try await harness.run("status", "--json")
            let environments = try #require(status.json?["environments"]?.arrayValue)
            #expect(environments.map { $0["name"]?.stringValue } == ["develop", "main"])
            let main = try #require(environments.last)
            #expect(main["live"]?["version"]?.stringValue == "1.0.0")
            #expect(main["live"]?["by"]?.stringValue == "alice")
            #expect(main["health"]?.stringValue == "healthy")
            #expect(main["in_flight"] == .null)
            #expect(main["frozen"] == .bool(false))
            let sinceText = try #require(main["live"]?["since"]?.stringValue)
            let since = try #require(Timestamp(parsing: sinceText))
            #expect(sinceText == since.rfc3339, "since is RFC 3339 with microseconds")

            // 1.0.1 is healthy on develop and broken on main.
            let broken = try harness.artifact("1.0.1", health: "broken-on=main")
            #expect(try await harness.run("create", "1.0.1", "--commit", "def5678", "--artifact", broken).status == 0)
            #expect(try await harness.run("deploy", "1.0.1", "develop").status == 0)
            #expect(try await harness.run("check", "1.0.1", "tests", "passed").status == 0)
            let failed = try await harness.run("promote", "develop", "main")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("1.0.1 is quarantined; main was rolled back to 1.0.0"))
            #expect(try await harness.served("main") == "1.0.0")

            let history = try await harness.run("history", "main", "--json")
            let deployments = try #require(history.json?["deployments"]?.arrayValue)
            let summary = deployments.map { "\($0["kind"]?.stringValue ?? "") \($0["version"]?.stringValue ?? "") \($0["state"]?.stringValue ?? "")" }
            #expect(summary == ["rollback 1.0.0 live", "promote 1.0.1 rolled_back", "promote 1.0.0 superseded", "promote 1.0.0 rejected"])
            for deployment in deployments {
                for key in ["id", "environment", "version", "kind", "state", "by", "started_at", "finished_at"] {
                    #expect(deployment[key] != nil, "history entry lacks \(key)")
                }
            }

            // Quarantined for good.
            let again = try await harness.run("promote", "develop", "main")
            #expect(again.status == 3)
            #expect(again.stderr.contains("quarantined"))

            // The audit trail tells the story and answers what was live when, to the microsecond.
            let audit = try await harness.run("audit", "--env", "main", "--format", "json")
            let actions = try #require(audit.json?["events"]?.arrayValue).compactMap { $0["action"]?.stringValue }
            #expect(actions.contains("promote.verification_failed"))
            #expect(actions.contains("rollback.live"))
            let at = try await harness.run("audit", "--at", since.rfc3339, "--json")
            #expect(at.json?["environments"]?.arrayValue?.last?["version"]?.stringValue == "1.0.0")
            let before = try await harness.run("audit", "--at", since.adding(TimeSpan(microseconds: -1)).rfc3339, "--json")
            #expect(before.json?["environments"]?.arrayValue?.last?["version"] == .null)
            #expect(before.json?["environments"]?.arrayValue?.first?["version"]?.stringValue == "1.0.0")

            let verify = try await harness.run("audit", "verify")
            #expect(verify.status == 0, "\(verify)")
            #expect(verify.stdout.contains("intact"))

            let csv = try await harness.run("audit", "--format", "csv", "--env", "main")
            let rows = csv.stdout.split(separator: "\n")
            #expect(rows.first == "id,at,actor,action,environment,version,details")
            #expect(rows.dropFirst().allSatisfy { $0.contains(",main,") })
            #expect(rows.count - 1 == actions.count)

            // --limit keeps the latest events, as the dashboard's /api/audit does, still in order.
            let latest = try await harness.run("audit", "--env", "main", "--limit", "2", "--format", "json")
            #expect(try #require(latest.json?["events"]?.arrayValue).compactMap { $0["action"]?.stringValue } == Array(actions.suffix(2)))
        }
    }

    @Test func aFailedRollbackLeavesTheEnvironmentDegradedAndIsNeverRolledBack() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            try await harness.createAndDeploy("1.0.1")
            // Now 1.0.0's artifact breaks (the platform lost something): rolling back to it fails.
            try harness.setHealth("1.0.0", "broken")
            let rollback = try await harness.run("rollback", "develop", "--reason", "customer reports errors")
            #expect(rollback.status == 1)
            #expect(rollback.stderr.contains("degraded"))
            let status = try await harness.run("status", "develop", "--json")
            #expect(status.json?["environments"]?.arrayValue?.first?["health"]?.stringValue == "degraded")
            let history = try await harness.run("history", "develop", "--json")
            let kinds = try #require(history.json?["deployments"]?.arrayValue).map { $0["kind"]?.stringValue ?? "" }
            #expect(kinds.filter { $0 == "rollback" }.count == 1, "a rollback is never itself rolled back")
        }
    }

    @Test func rollbackRestoresTheLastGoodReleaseAndIgnoresFreezes() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            try await harness.createAndDeploy("1.0.1")
            #expect(try await harness.run("freeze", "develop", "--reason", "incident review").status == 0)
            let rollback = try await harness.run("rollback", "develop", "--reason", "search is slow", "--json")
            #expect(rollback.status == 0, "\(rollback)")
            #expect(rollback.json?["deployment"]?["version"]?.stringValue == "1.0.0")
            #expect(try await harness.served("develop") == "1.0.0")
            let audit = try await harness.run("audit", "--format", "json")
            let started = try #require(audit.json?["events"]?.arrayValue).first { $0["action"]?.stringValue == "rollback.started" }
            #expect(started?["details"]?["reason"]?.stringValue == "search is slow")
        }
    }

    @Test func freezesStopDeploysUntilForcedByAnAllowedActorWithAReason() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            try harness.writeConfig(harness.defaultConfig(mainGates: "checks: [tests], allowed: [alice]"))
            #expect(try await harness.run("freeze", "main", "--reason", "holidays").status == 0)
            let dry = try await harness.run("promote", "develop", "main", "--dry-run", "--json")
            #expect(dry.status == 3)
            let freeze = try #require(dry.json?["gates"]?.arrayValue?.first { $0["name"]?.stringValue == "freeze" })
            #expect(freeze["passed"] == .bool(false))
            #expect(freeze["detail"]?.stringValue?.contains("holidays") == true)

            #expect(try await harness.run("promote", "develop", "main").status == 3)
            let bob = try await harness.run("promote", "develop", "main", "--force", "--reason", "hotfix", environment: ["RELEASE_ACTOR": "bob"])
            #expect(bob.status == 3)
            #expect(bob.stderr.contains("bob may not operate on main"))
            let forced = try await harness.run("promote", "develop", "main", "--force", "--reason", "hotfix for the invoice bug")
            #expect(forced.status == 0, "\(forced)")
            let audit = try await harness.run("audit", "--format", "json")
            let override = try #require(audit.json?["events"]?.arrayValue?.first { $0["action"]?.stringValue == "freeze.overridden" })
            #expect(override["actor"]?.stringValue == "alice")
            #expect(override["details"]?["reason"]?.stringValue == "hotfix for the invoice bug")
            #expect(try await harness.run("unfreeze", "main").status == 0)
        }
    }

    @Test func aRejectedReleaseCanNeverBeDeployed() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let path = try harness.artifact("1.0.2")
            #expect(try await harness.run("create", "1.0.2", "--artifact", path).status == 0)
            let reject = try await harness.run("reject", "1.0.2", "--reason", "leaks customer emails")
            #expect(reject.status == 0)
            let deploy = try await harness.run("deploy", "1.0.2", "develop")
            #expect(deploy.status == 3)
            #expect(deploy.stderr.contains("leaks customer emails"))
            #expect(try await harness.served("develop") == "1.0.0")
        }
    }

    @Test func globalOptionsWorkBeforeOrAfterTheSubcommand() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let before = try await harness.run("--json", "--actor", "carol", "status")
            let after = try await harness.run("status", "--json", "--actor", "carol")
            #expect(before.status == 0)
            #expect(before.stdout == after.stdout)
            #expect(before.json?["environments"] != nil)
        }
    }

    @Test func aTamperedAuditTrailIsCaughtByAuditVerify() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let connection = try await PostgresConnectionFactory.connect(harness.databaseURL)
            try await connection.run { db in
                try db.execute(
                    script: """
                        ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
                        UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2;
                        ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
                        """)
            }
            let verify = try await harness.run("audit", "verify")
            #expect(verify.status == 1)
            #expect(verify.stderr.contains("#2"))
            #expect(verify.stderr.contains("tampered"))
        }
    }

    @Test func releaseStatsCountsTheRoundTripsOfARun() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let plain = try await harness.run("status")
            #expect(!plain.stderr.contains("round trips"))
            let counted = try await harness.run(["status"], environment: ["RELEASE_STATS": "1"])
            #expect(counted.status == 0)
            #expect((Self.roundTrips(counted) ?? 0) > 0, "\(counted)")
        }
    }

    /// The round trips a run made, as `RELEASE_STATS=1` reports them (RoundTripTests holds each
    /// command to its count).
    static func roundTrips(_ result: Harness.Result) -> Int? {
        let line = result.stderr.split(separator: "\n").first { $0.hasPrefix("release: database round trips: ") }
        return line.flatMap { Int($0.dropFirst("release: database round trips: ".count)) }
    }
}
