import Postgres
import ReleaseCore
import ReleaseStore
import ReleaseTestSupport
import Testing

@testable import ReleaseDashboard

/// The release pages' verdict on the audit trail under load: no page waits for a walk whose
/// answer it already has, and an event altered in place is still found by the periodic check.
@Suite struct TrailCacheTests {
    static func intact(_ verdict: TrailVerdict) -> Bool {
        if case .intact = verdict { return true }
        return false
    }

    @Test func aVerdictStandsWhileTheTrailIsUnchangedAndTheBackgroundCheckFindsATamperedEvent() async throws {
        try await DashboardFixture.with { fixture in
            let database = DashboardDatabase(url: fixture.url)
            // Checked again on every view once a verdict exists (a minute in `release serve`).
            let trails = TrailCache(patience: .seconds(10), recheck: .zero)
            #expect(Self.intact(await trails.verdict(app: "crm-api", appID: fixture.app, database: database)))
            try await fixture.tamperWithAuditEvent(sequence: 2)
            // The head is the same: the view gets the verdict it had at once, and a walk starts.
            #expect(Self.intact(await trails.verdict(app: "crm-api", appID: fixture.app, database: database)))
            var found = false
            for _ in 0..<100 where !found {
                if case .tampered = await trails.verdict(app: "crm-api", appID: fixture.app, database: database) {
                    found = true
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(found, "the background walk found event #2 altered")
        }
    }
}
