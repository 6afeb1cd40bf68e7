import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// What a database 20 ms away makes users notice: how many round trips each command makes after
/// connecting, counted by the binary itself (`RELEASE_STATS=1`), the schema check included. The
/// figures are the durable steps each command needs, one round trip each.
@Suite struct RoundTripTests {
    /// Runs `release ARGS…`, which must succeed; the round trips it reported.
    static func roundTrips(_ harness: Harness, _ arguments: [String], actor: String = "alice") async throws -> Int? {
        let result = try await harness.run(arguments, environment: ["RELEASE_STATS": "1", "RELEASE_ACTOR": actor])
        #expect(result.status == 0, "\(arguments): \(result)")
        return MainJobTests.roundTrips(result)
    }

    @Test func everyCommandSendsOnlyItsDurableStepsOneRoundTripEach() async throws {
        try await Harness.with(demoApps: false) { harness in
            try harness.writeConfig(
                """
                app: crm-api
                environments:
                  develop:
                    provider: command
                    command: {deploy: "true"}
                  main:
                    provider: command
                    command: {deploy: "true"}
                    promote_from: develop
                    gates: {checks: [tests], approvals: 1}

                """)
            let expected: [([String], String, Int)] = [
                (["create", "1.0.0", "--notes", "first"], "alice", 1),
                (["deploy", "1.0.0", "develop"], "alice", 5),
                (["check", "1.0.0", "tests", "passed"], "ci", 1),
                (["approve", "main", "1.0.0"], "bob", 1),
                (["promote", "develop", "main", "--dry-run"], "alice", 1),
                (["promote", "develop", "main"], "alice", 5),
                (["create", "1.0.1"], "alice", 1),
                (["deploy", "1.0.1", "develop"], "alice", 5),
                (["rollback", "develop", "--plan"], "alice", 1),
                (["rollback", "develop", "--reason", "a bad build"], "alice", 5),
                (["rollback", "develop", "--to", "1.0.1", "--reason", "it was fine after all"], "alice", 5),
                (["status"], "alice", 1),
                (["status", "main", "--json"], "alice", 1),
                (["history"], "alice", 1),
                (["history", "main"], "alice", 1),
                (["audit", "--limit", "5"], "alice", 1),
                (["audit", "--at", Timestamp.now.rfc3339], "alice", 1),
            ]
            for (arguments, actor, trips) in expected {
                let counted = try await Self.roundTrips(harness, arguments, actor: actor)
                #expect(counted == trips, "release \(arguments.joined(separator: " ")): \(counted.map(String.init) ?? "nothing counted")")
            }
            #expect(try await harness.live("main") == "1.0.0")
            #expect(try await harness.live("develop") == "1.0.1", "the rollbacks took develop back, then forth")
        }
    }
}
