import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The database failing under a running operation: its connections killed mid-promotion, and a
/// lock held by another session. Clear errors with the contract's codes, and nothing recorded
/// twice or half.
@Suite struct DatabaseFaultTests {
    @Test func connectionsKilledMidPromotionAreAnErrorThatRecoverSettlesOnce() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            try await harness.startWithVersionOneOnDevelop()
            let held = try await harness.startHeld(["promote", "develop", "main"], inFlightOn: "main")
            let admin = try await PostgresConnection.connect(url: harness.databaseURL, applicationName: "fault-test")
            let killed = try admin.query(
                """
                SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                """)
            #expect(try killed.first?.int("n") ?? 0 >= 1, "the promotion's connection was terminated")
            harness.releaseDeploys(held.gate)
            let result = await held.command.finish()
            #expect(result.status == 5, "\(result)")
            #expect(result.stderr.contains("Lost the database connection"), "\(result)")
            #expect(result.stderr.contains("release recover"), "the message says what to do: \(result)")

            let recover = try await harness.run("recover", "main")
            #expect(recover.status == 0, "\(recover)")
            let status = try await harness.run("status", "main", "--json")
            let main = status.json?["environments"]?.arrayValue?.first
            #expect(main?["in_flight"] == .null)
            #expect(main?["live"]?["version"]?.stringValue == "1.0.0")
            #expect(try await harness.served("main") == "1.0.0")
            let history = try await harness.run("history", "main", "--json")
            #expect(history.json?["deployments"]?.arrayValue?.count == 1, "one promotion, recorded once: \(history.stdout)")
            let occupancy = try admin.query(
                "SELECT count(*) AS n FROM occupancy o JOIN environments e ON e.id = o.environment_id WHERE e.name = 'main'")
            #expect(try occupancy.first?.int("n") == 1, "one cutover, not two")
            admin.close()
            #expect(try await harness.run("audit", "verify").status == 0)
        }
    }

    @Test func aTableLockedByAnotherSessionIsBusyNotAHang() async throws {
        try await Harness.with { harness in
            try await harness.create("1.0.0")
            let before = try await harness.snapshot()
            let locker = try await PostgresConnection.connect(url: harness.databaseURL, applicationName: "locker")
            _ = try locker.query("BEGIN")
            _ = try locker.query("LOCK TABLE deployments IN ACCESS EXCLUSIVE MODE")
            let blocked = try await harness.run("deploy", "1.0.0", "develop")
            _ = try locker.query("ROLLBACK")
            locker.close()
            #expect(blocked.status == 4, "\(blocked)")
            #expect(blocked.stderr.contains("another session holds a lock"), "\(blocked)")
            #expect(try await harness.snapshot() == before, "nothing half-recorded")
            #expect(try await harness.run("deploy", "1.0.0", "develop").status == 0, "and it works once the lock is gone")
        }
    }
}
