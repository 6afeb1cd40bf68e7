import Foundation
import ReleaseCore
import Testing

@Suite struct ProbeAndApprovalTests {
    @Test func probeChecksEveryEnvironmentAtOnceAndRecordsTheVerdict() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            // main serves nothing yet, so its probe fails while develop's passes.
            let probe = try await harness.run("probe", "--json")
            #expect(probe.status == 1, "\(probe)")
            let verdicts = try #require(probe.json?["probes"]?.arrayValue)
            #expect(verdicts.map { $0["environment"]?.stringValue } == ["develop", "main"])
            #expect(verdicts.map { $0["healthy"] } == [.bool(true), .bool(false)])
            #expect(verdicts.last?["detail"]?.stringValue?.contains("503") == true)
            let one = try await harness.run("probe", "develop")
            #expect(one.status == 0)
            #expect(one.stdout.contains("healthy"))
            let unknown = try await harness.run("probe", "staging")
            #expect(unknown.status == 2)
        }
    }

    @Test func approvalsNeedSomeoneOtherThanThePromoter() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            try harness.writeConfig(harness.defaultConfig(mainGates: "checks: [tests], approvals: 1"))
            #expect(try await harness.run("approve", "main", "1.0.0").status == 0)
            let own = try await harness.run("promote", "develop", "main")
            #expect(own.status == 3)
            #expect(own.stderr.contains("alice's own approval does not count"))
            #expect(try await harness.run("approve", "main", "1.0.0", environment: ["RELEASE_ACTOR": "bob"]).status == 0)
            let promoted = try await harness.run("promote", "develop", "main")
            #expect(promoted.status == 0, "\(promoted)")
            #expect(try await harness.served("main") == "1.0.0")
        }
    }
}
