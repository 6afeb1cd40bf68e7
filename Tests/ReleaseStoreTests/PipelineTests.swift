import Postgres
import ReleaseCore
import ReleaseStore
import ReleaseTestSupport
import Testing

/// The connection's round-trip savers: several reads in one pipeline, BEGIN sent with the first
/// statement, writes queued until the next statement or COMMIT. Each must keep a transaction's
/// all-or-nothing promise.
@Suite struct PipelineTests {
    @Test func severalReadsShareOneRoundTripAndKeepTheirOrder() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            let before = db.roundTrips
            let (now, first, missing, releases) = try db.fetch(
                Reads.now(), Reads.release(id: fixture.first.id), Reads.release(id: nil),
                Fetch("SELECT version FROM releases ORDER BY id") { rows in try rows.map { try $0.string("version") } })
            #expect(db.roundTrips == before + 1)
            #expect(first?.version == "1.0.0")
            #expect(missing == nil)
            #expect(releases == ["1.0.0", "1.0.1"])
            #expect(now.rfc3339.hasPrefix("20"))
        }
    }

    @Test func readsOfOneKindShareOneRoundTripAndKeepTheirOrder() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            let before = db.roundTrips
            let releases = try db.fetchAll([fixture.second.id, nil, fixture.first.id].map { Reads.release(id: $0) })
            #expect(db.roundTrips == before + 1)
            #expect(releases.map { $0?.version } == ["1.0.1", nil, "1.0.0"])
            #expect(try db.fetchAll([Fetch<ReleaseRecord?>]()).isEmpty)
            #expect(db.roundTrips == before + 1, "nothing to read sends nothing")
        }
    }

    @Test func aTransactionCostsNoRoundTripsOfItsOwn() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            var before = db.roundTrips
            try db.transaction { tx in
                _ = try tx.release(id: fixture.first.id)
                try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.added", environment: nil, version: nil)
            }
            // BEGIN went with the read; the queued audit event went with COMMIT.
            #expect(db.roundTrips == before + 2)
            #expect(try db.auditHead(app: fixture.app).count == 1)
            before = db.roundTrips
            try db.transaction { _ in }
            #expect(db.roundTrips == before, "an empty transaction sends nothing")
        }
    }

    @Test func aQueuedWriteThatFailsRollsBackTheWholeTransaction() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            #expect(throws: PostgresError.self) {
                try db.transaction { tx in
                    try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.added", environment: nil, version: nil)
                    // pending → live is not a transition the database allows: refused when it reaches the server.
                    let id = try tx.insertDeployment(
                        app: fixture.app, environment: fixture.main, environmentName: "main",
                        release: fixture.first.id, kind: .deploy, by: "alice", reason: nil)
                    try tx.transition(deployment: id, to: .live)
                    try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.after", environment: nil, version: nil)
                }
            }
            // Nothing of it stayed, and the connection works on.
            #expect(try db.auditHead(app: fixture.app).count == 0)
            #expect(try db.query("SELECT count(*) AS n FROM deployments").first?.int64("n") == 0)
            #expect(try db.release(id: fixture.second.id)?.version == "1.0.1")
        }
    }

    @Test func aFailingStatementInABatchSkipsTheRestAndReportsItsOwnError() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            do {
                _ = try db.pipeline(["SELECT 1 AS one", "SELECT nonsense FROM nowhere", "SELECT 2 AS two"])
                Issue.record("a batch with a bad statement must throw")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42P01")
            }
            #expect(try db.pipeline(["SELECT 1 AS one", "SELECT 2 AS two"]).map { try $0.first?.int64($0.first!.columns[0]) } == [1, 2])
        }
    }

    @Test func aSwiftErrorAfterQueuedWritesLeavesNothingBehind() async throws {
        struct Stop: Error {}
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            let before = db.roundTrips
            #expect(throws: Stop.self) {
                try db.transaction { tx in
                    try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.added", environment: nil, version: nil)
                    throw Stop()
                }
            }
            #expect(db.roundTrips == before, "nothing was sent, so nothing needed rolling back")
            #expect(try db.auditHead(app: fixture.app).count == 0)
        }
    }

    @Test func aCheckSentWithTheNextRoundTripCostsNothingAndWhenItRefusesNothingSentWithItRuns() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            // The binary's own schema passes its check, in the same round trip as the write after it.
            db.checkWithNextRoundTrip(Migrator().sessionCheck(assumeEnforced: false))
            var before = db.roundTrips
            try db.transaction { tx in
                try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.added", environment: nil, version: nil)
            }
            #expect(db.roundTrips == before + 1)
            #expect(try db.auditHead(app: fixture.app).count == 1)

            // A check that refuses (the binary assumes enforcement is on; it is not): the write
            // sent with it never runs, and the connection refuses everything until cleared.
            db.checkWithNextRoundTrip(Migrator().sessionCheck(assumeEnforced: true))
            before = db.roundTrips
            do {
                try db.transaction { tx in
                    try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.skipped", environment: nil, version: nil)
                }
                Issue.record("the check must refuse")
            } catch let refused as PostgresConnection.CheckRefused {
                #expect(refused.error.sqlState == "RA003")
            }
            #expect(throws: PostgresConnection.CheckRefused.self) { try db.fetch(Reads.now()) }
            #expect(db.roundTrips == before + 1, "the refused round trip only: its transaction's ROLLBACK waits for the next one")
            db.clearRefusal()
            #expect(try db.auditHead(app: fixture.app).count == 1, "the write sent with the refused check did not run")
            #expect(db.roundTrips == before + 2, "the ROLLBACK went with that read")
            try db.transaction { tx in
                try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.after", environment: nil, version: nil)
            }
            #expect(db.roundTrips == before + 3)
            #expect(try db.auditHead(app: fixture.app).count == 2, "a transaction after the refused one commits")

            // A database with other migrations than the binary carries refuses too (RA002).
            db.checkWithNextRoundTrip(Migrator(migrations: Array(Migration.embedded.dropLast())).sessionCheck(assumeEnforced: false))
            #expect(throws: PostgresConnection.CheckRefused.self) { try db.fetch(Reads.now()) }
            db.clearRefusal()
        }
    }

    @Test func aSnapshotRolledBackLaterCostsOneRoundTripAndKeepsNothing() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            let before = db.roundTrips
            let seen = try db.rolledBackTransaction(rollingBackLater: true) { tx in
                try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.dry", environment: nil, version: nil)
                return try tx.auditHead(app: fixture.app).count
            }
            #expect(seen == 1, "inside the snapshot the write is seen")
            #expect(db.roundTrips == before + 1, "the ROLLBACK did not take a round trip of its own")
            #expect(try db.auditHead(app: fixture.app).count == 0, "rolled back, in front of the next request")
            #expect(db.roundTrips == before + 2)
            try db.transaction { tx in
                try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.kept", environment: nil, version: nil)
            }
            #expect(try db.auditHead(app: fixture.app).count == 1)
        }
    }

    @Test func commitReturningSendsTheReadItsWritesAndCommitTogether() async throws {
        try await StoreFixture.with { fixture async throws in
            let db = fixture.connection
            let before = db.roundTrips
            let now = try db.transaction { tx in
                try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.first", environment: nil, version: nil)
                let second: PostgresQuery = "SELECT release_append_audit(\(fixture.app), 'alice', 'note.second', NULL, NULL, '{}')"
                return try tx.commit(returning: Reads.now(), then: [second])
            }
            #expect(db.roundTrips == before + 1)
            #expect(now.rfc3339.hasPrefix("20"))
            #expect(try db.auditHead(app: fixture.app).count == 2)
            // A write after the read that fails takes the whole transaction with it.
            #expect(throws: PostgresError.self) {
                try db.transaction { tx in
                    try tx.appendAudit(app: fixture.app, actor: "alice", action: "note.third", environment: nil, version: nil)
                    return try tx.commit(returning: Reads.now(), then: ["SELECT nonsense FROM nowhere"])
                }
            }
            #expect(try db.auditHead(app: fixture.app).count == 2)
        }
    }
}
