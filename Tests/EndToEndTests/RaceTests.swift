import Foundation
import Postgres
import ReleaseCore
import ReleaseTestSupport
import Testing

/// 32 processes deploying, promoting and rolling back across four environments at once: the
/// database admits one operation per environment, the rest exit 4 at once without recording
/// anything, and what was live when never overlaps.
@Suite struct RaceTests {
    @Test func thirtyTwoProcessesAcrossFourEnvironments() async throws {
        try await Harness.with { harness in
            let deploy = ProjectPaths.root + "/ops/demo-app/deploy.sh"
            var config = "app: crm-api\nenvironments:\n"
            for (name, source) in [("dev1", nil), ("dev2", nil), ("prod1", "dev1"), ("prod2", "dev2")] as [(String, String?)] {
                config += "  \(name):\n    provider: command\n    command: {deploy: \(deploy), timeout: 2m}\n"
                if let source { config += "    promote_from: \(source)\n" }
            }
            try harness.writeConfig(config)
            for version in ["1.0.0", "1.0.1"] {
                try await harness.create(version)
                for (dev, prod) in [("dev1", "prod1"), ("dev2", "prod2")] {
                    try await harness.must(["deploy", version, dev])
                    try await harness.must(["promote", dev, prod])
                }
            }
            // develop runs ahead of production, so every promotion in the race has work to do.
            try await harness.create("1.0.2")
            try await harness.must(["deploy", "1.0.2", "dev1"])
            try await harness.must(["deploy", "1.0.2", "dev2"])
            try await harness.create("1.0.3")
            let before = try await Self.deploymentCount(harness)

            let gate = harness.holdDeploys()
            var runs: [(environment: String, command: RunningCommand)] = []
            for index in 0..<32 {
                let environment = ["dev1", "dev2", "prod1", "prod2"][index % 4]
                let arguments: [String]
                if environment.hasPrefix("dev") {
                    arguments = ["deploy", "1.0.3", environment]
                } else if index % 8 < 4 {
                    arguments = ["promote", environment == "prod1" ? "dev1" : "dev2", environment]
                } else {
                    arguments = ["rollback", environment, "--reason", "race \(index)"]
                }
                runs.append((environment, try harness.start(arguments, environment: ["DEMO_DEPLOY_GATE": gate, "RELEASE_ACTOR": "op\(index)"])))
            }
            // While the winners' deploys are held, every loser must already have given up.
            let deadline = ContinuousClock.now.advanced(by: .seconds(60))
            while runs.filter({ $0.command.process.isRunning }).count > 4, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let stillRunning = runs.filter { $0.command.process.isRunning }
            #expect(stillRunning.count == 4, "one operation per environment holds it; the rest exit at once")
            #expect(Set(stillRunning.map(\.environment)) == ["dev1", "dev2", "prod1", "prod2"])
            harness.releaseDeploys(gate)
            var results: [(environment: String, result: Harness.Result)] = []
            for run in runs { results.append((run.environment, await run.command.finish())) }
            for environment in ["dev1", "dev2", "prod1", "prod2"] {
                let statuses = results.filter { $0.environment == environment }.map(\.result.status).sorted()
                #expect(statuses == [0, 4, 4, 4, 4, 4, 4, 4], "\(environment): \(statuses)")
            }
            for loser in results where loser.result.status != 0 {
                #expect(loser.result.stderr.contains("busy"), "\(loser.result)")
            }
            #expect(try await Self.deploymentCount(harness) == before + 4, "losers recorded nothing")
            let connection = try await PostgresConnection.connect(url: harness.databaseURL)
            let overlaps = try connection.query(
                """
                SELECT count(*) AS n FROM occupancy a JOIN occupancy b
                  ON a.environment_id = b.environment_id AND a.id < b.id AND a.during && b.during
                """)
            #expect(try overlaps.first?.int("n") == 0)
            let open = try connection.query("SELECT count(*) AS n FROM occupancy WHERE upper_inf(during)")
            #expect(try open.first?.int("n") == 4, "exactly one release live per environment")
            connection.close()
            #expect(try await harness.run("audit", "verify").status == 0)
        }
    }

    static func deploymentCount(_ harness: Harness) async throws -> Int {
        let history = try await harness.run("history", "--json", "--limit", "1000")
        return history.json?["deployments"]?.arrayValue?.count ?? -1
    }
}
