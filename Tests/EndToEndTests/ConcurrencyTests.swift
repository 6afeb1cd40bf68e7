import Foundation
import ReleaseCore
import Testing

/// Several operators share one database: the database, not the client, admits one operation per
/// environment; and a run killed mid-deploy is finished by `release recover`.
@Suite struct ConcurrencyTests {
    @Test func twoPromotionsRacingForOneEnvironmentLetExactlyOneProceed() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            // Both start together; the deploy of whichever gets in waits on a gate file, so the other
            // certainly finds the environment busy.
            let gate = harness.holdDeploys()
            let slow = ["DEMO_DEPLOY_GATE": gate]
            let first = try harness.start(["promote", "develop", "main"], environment: slow)
            let second = try harness.start(["promote", "develop", "main"], environment: slow.merging(["RELEASE_ACTOR": "bob"]) { $1 })
            try await harness.waitUntilInFlight("main")
            let loserFirst = try await harness.run("status", "main", "--json")
            #expect(loserFirst.json?["environments"]?.arrayValue?.first?["in_flight"]?["kind"]?.stringValue == "promote")
            harness.releaseDeploys(gate)
            let results = [await first.finish(), await second.finish()]
            let statuses = results.map(\.status).sorted()
            #expect(statuses == [0, 4], "\(results)")
            let loser = try #require(results.first { $0.status == 4 })
            #expect(loser.stderr.contains("busy"))
            // The loser recorded nothing: one promotion in the history.
            let history = try await harness.run("history", "main", "--json")
            #expect(history.json?["deployments"]?.arrayValue?.count == 1)
            #expect(try await harness.served("main") == "1.0.0")
        }
    }

    @Test func aRunKilledMidDeployIsFinishedByRecover() async throws {
        try await Harness.with { harness in
            try await harness.create("1.0.0")
            // Once the deployment is recorded in flight (write-ahead), the run is killed.
            let held = try await harness.startHeld(["deploy", "1.0.0", "develop"], inFlightOn: "develop")
            #expect(held.inFlight["state"]?.stringValue == "deploying")
            kill(held.command.pid, SIGKILL)
            let killed = await held.command.finish()
            #expect(killed.status == SIGKILL)
            harness.releaseDeploys(held.gate)

            let stuck = try await harness.run("status", "develop", "--json")
            #expect(stuck.json?["environments"]?.arrayValue?.first?["in_flight"]?["state"]?.stringValue == "deploying")
            let busy = try await harness.run("deploy", "1.0.0", "develop")
            #expect(busy.status == 4)
            #expect(busy.stderr.contains("release recover develop"))

            let recover = try await harness.run("recover", "develop")
            #expect(recover.status == 0, "\(recover)")
            #expect(recover.stdout.contains("1.0.0 is live on develop"))
            let status = try await harness.run("status", "develop", "--json")
            let develop = try #require(status.json?["environments"]?.arrayValue?.first)
            #expect(develop["live"]?["version"]?.stringValue == "1.0.0")
            #expect(develop["in_flight"] == .null)
            #expect(develop["health"]?.stringValue == "healthy")
            #expect(try await harness.served("develop") == "1.0.0")
            #expect(try await harness.run("audit", "verify").status == 0)
            let nothing = try await harness.run("recover")
            #expect(nothing.stdout.contains("Nothing is in flight"))
        }
    }

    @Test func recoverLeavesALiveRunAlone() async throws {
        try await Harness.with { harness in
            try await harness.create("1.0.0")
            let held = try await harness.startHeld(["deploy", "1.0.0", "develop"], inFlightOn: "develop")
            let recover = try await harness.run("recover", "develop")
            #expect(recover.status == 4, "the environment is busy with a live run")
            #expect(recover.stdout.contains("still running"))
            harness.releaseDeploys(held.gate)
            let finished = await held.command.finish()
            #expect(finished.status == 0, "\(finished)")
        }
    }

    @Test func recoverTakesOverFromAnotherHostOnlyOnceItsLeaseHasExpired() async throws {
        try await Harness.with { harness in
            try await harness.create("1.0.0")
            let held = try await harness.startHeld(["deploy", "1.0.0", "develop"], inFlightOn: "develop")
            kill(held.command.pid, SIGKILL)
            _ = await held.command.finish()
            harness.releaseDeploys(held.gate)
            // Pretend the dead run was on another machine, whose process we cannot check.
            let connection = try await PostgresConnectionFactory.connect(harness.databaseURL)
            try await connection.run { db in
                try db.execute(
                    script: "UPDATE deployments SET lease_owner = 'ci-runner-7:4242:abc', lease_expires_at = clock_timestamp() + interval '1 hour'")
            }
            let early = try await harness.run("recover")
            #expect(early.status == 4, "\(early)")
            #expect(early.stdout.contains("ci-runner-7"))
            try await connection.run { db in
                try db.execute(script: "UPDATE deployments SET lease_expires_at = clock_timestamp() - interval '1 second'")
            }
            let recovered = try await harness.run("recover")
            #expect(recovered.status == 0, "\(recovered)")
            #expect(try await harness.served("develop") == "1.0.0")
            let audit = try await harness.run("audit", "--format", "json")
            let takeover = try #require(audit.json?["events"]?.arrayValue?.first { $0["action"]?.stringValue == "recover.took_over" })
            #expect(takeover["details"]?["previous_owner"]?.stringValue == "ci-runner-7:4242:abc")
        }
    }
}
