import ReleaseCore
import Testing

@Suite("Records")
struct RecordsTests {
    @Test("a release is quarantined exactly when it has a quarantine time")
    func quarantine() throws {
        let created = try instant("2026-03-01T14:00:00Z")
        let fresh = ReleaseRecord(id: 1, version: "1.4.2", commit: "abc", artifact: nil, notes: nil, createdAt: created, createdBy: "ci")
        #expect(!fresh.isQuarantined)
        #expect(fresh.quarantineReason == nil)
        var rejected = fresh
        rejected.quarantinedAt = created.adding(.minutes(5))
        rejected.quarantineReason = "failed verification"
        #expect(rejected.isQuarantined)
        #expect(rejected != fresh)
    }

    @Test("check statuses use the CLI's words", arguments: ["passed", "failed", "pending"])
    func checkStatuses(word: String) throws {
        let status = try #require(CheckStatus(rawValue: word))
        #expect(status.rawValue == word)
        #expect(CheckStatus.allCases.count == 3)
        #expect(CheckStatus(rawValue: word.uppercased()) == nil)
    }

    @Test("a deployment record starts with empty operation references and unverified")
    func deploymentDefaults() throws {
        let record = DeploymentRecord(
            id: 1, environment: "main", version: "1.4.2", releaseID: 7, kind: .promote,
            state: .pending, by: "alice", startedAt: try instant("2026-03-01T14:00:00Z"))
        #expect(record.operation == .object([]))
        #expect(record.liveReference == .object([]))
        #expect(!record.verified)
        #expect(record.finishedAt == nil && record.cutoverAt == nil && record.rollbackOf == nil)
        #expect(record.state.isInFlight)
    }
}
