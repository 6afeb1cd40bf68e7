import Postgres
import ReleaseCore
import ReleaseStore
import Testing

@Suite struct AuditTrailTests {
    private func appendSome(_ fixture: StoreFixture, count: Int = 5) async throws -> [AuditEvent] {
        let app = fixture.app
        return try await fixture.connection.run { db in
            for index in 0..<count {
                try db.appendAudit(
                    app: app, actor: "alice", action: "test.event", environment: index % 2 == 0 ? "main" : nil,
                    version: "1.0.\(index)", details: .object([("n", .int(Int64(index))), ("text", .string("ü \"quoted\""))]))
            }
            return try db.auditChain(app: app, after: 0, limit: 100)
        }
    }

    @Test func theDatabaseChainsEventsAndSwiftRecomputesTheSameHashes() async throws {
        try await StoreFixture.with { fixture in
            let events = try await appendSome(fixture)
            #expect(events.map(\.sequence) == [1, 2, 3, 4, 5])
            #expect(events.first?.previousHash == nil)
            for (previous, event) in zip(events, events.dropFirst()) {
                #expect(event.previousHash == previous.hash)
            }
            for event in events { #expect(event.computedHash == event.hash) }
            var verifier = AuditChainVerifier()
            for event in events { verifier.check(event) }
            let app = fixture.app
            let head = try await fixture.connection.run { db in try db.auditHead(app: app) }
            verifier.finish(expectedCount: head.count, expectedHeadHash: head.hash)
            #expect(verifier.problem == nil)
            #expect(verifier.checked == 5)
        }
    }

    @Test(arguments: ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events", "TRUNCATE audit_events CASCADE"])
    func theDatabaseRefusesToChangeTheTrail(_ statement: String) async throws {
        try await StoreFixture.with { fixture in
            _ = try await appendSome(fixture)
            await #expect {
                try await fixture.connection.run { db in try db.execute(script: statement) }
            } throws: { error in
                (error as? PostgresError)?.message.contains("append-only") == true
            }
            let count = try fixture.connection.query("SELECT count(*) AS n FROM audit_events WHERE actor = 'alice'")
            #expect(try count.first?.int("n") == 5)
        }
    }

    @Test func aTamperedEventIsCaught() async throws {
        try await StoreFixture.with { fixture in
            _ = try await appendSome(fixture)
            // Only the owner can do this, by switching off the guard: exactly what verify must catch.
            try await fixture.connection.run { db in
                try db.execute(
                    script: """
                        ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
                        UPDATE audit_events SET actor = 'mallory' WHERE sequence = 3;
                        ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
                        """)
            }
            let app = fixture.app
            let events = try await fixture.connection.run { db in try db.auditChain(app: app, after: 0, limit: 100) }
            var verifier = AuditChainVerifier()
            for event in events where !verifier.check(event) { break }
            #expect(verifier.problem?.contains("#3") == true)
            #expect(verifier.checked == 2)
        }
    }

    @Test func aDeletedTailIsCaught() async throws {
        try await StoreFixture.with { fixture in
            _ = try await appendSome(fixture)
            try await fixture.connection.run { db in
                try db.execute(
                    script: """
                        ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
                        DELETE FROM audit_events WHERE sequence = 5;
                        ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
                        """)
            }
            let app = fixture.app
            let (events, head) = try await fixture.connection.run { db in
                (try db.auditChain(app: app, after: 0, limit: 100), try db.auditHead(app: app))
            }
            var verifier = AuditChainVerifier()
            for event in events { verifier.check(event) }
            #expect(verifier.problem == nil)
            verifier.finish(expectedCount: head.count, expectedHeadHash: head.hash)
            #expect(verifier.problem?.contains("removed") == true)
        }
    }
}
