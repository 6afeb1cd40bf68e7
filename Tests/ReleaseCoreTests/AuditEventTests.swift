import ReleaseCore
import Testing

/// Builds a valid chain of `count` events for an app, hashing each one the way the database does.
private func chain(_ count: Int, app: String = "crm-api") throws -> [AuditEvent] {
    var events: [AuditEvent] = []
    var previous: String?
    let start = try instant("2026-03-01T14:00:00.123456Z")
    for index in 1...count {
        var event = AuditEvent(
            id: Int64(100 + index), app: app, sequence: Int64(index),
            at: start.adding(.seconds(Int64(index) * 60)), actor: index % 2 == 0 ? "alice" : "ci",
            action: ["release.created", "deploy.started", "deploy.live", "promote.started"][index % 4],
            environment: index == 1 ? nil : "main", version: index % 3 == 0 ? nil : "1.4.\(index)",
            details: #"{"n":\#(index)}"#, previousHash: previous, hash: "")
        event.hash = event.computedHash
        previous = event.hash
        events.append(event)
    }
    return events
}

private func verify(_ events: [AuditEvent]) -> AuditChainVerifier {
    var verifier = AuditChainVerifier()
    for event in events where !verifier.check(event) { break }
    return verifier
}

@Suite("AuditEvent")
struct AuditEventTests {
    private static func sample(
        environment: String? = "main", version: String? = "1.4.2", previousHash: String? = nil
    )
        throws -> AuditEvent
    {
        AuditEvent(
            id: 9, app: "crm-api", sequence: 3, at: try instant("2026-03-01T14:00:00.25Z"), actor: "alice",
            action: "promote.started", environment: environment, version: version,
            details: #"{"from":"develop"}"#, previousHash: previousHash, hash: "")
    }

    @Test("canonicalText: every field length-prefixed on its own line, in a fixed order")
    func canonicalText() throws {
        let event = try Self.sample(previousHash: "ab12")
        #expect(
            event.canonicalText == """
                7:crm-api
                1:3
                27:2026-03-01T14:00:00.250000Z
                5:alice
                15:promote.started
                4:main
                5:1.4.2
                18:{"from":"develop"}
                4:ab12

                """)
    }

    @Test("canonicalText: the instant's length is counted, not assumed (a five-digit year, as PostgreSQL's to_char writes it)")
    func fiveDigitYear() throws {
        var event = try Self.sample()
        event.at = Timestamp(seconds: 253_402_300_800)  // 10000-01-01T00:00:00Z
        #expect(event.canonicalText.contains("\n28:10000-01-01T00:00:00.000000Z\n"), "\(event.canonicalText)")
        #expect(event.at.rfc3339 == "10000-01-01T00:00:00.000000Z")
    }

    @Test("canonicalText: a missing value is a bare '-', distinct from the text '-'")
    func canonicalNil() throws {
        let none = try Self.sample(environment: nil, version: nil)
        #expect(none.canonicalText.hasSuffix("15:promote.started\n-\n-\n18:{\"from\":\"develop\"}\n-\n"), "\(none.canonicalText)")
        let dash = try Self.sample(environment: "-", version: "-", previousHash: "-")
        #expect(dash.canonicalText.hasSuffix("15:promote.started\n1:-\n1:-\n18:{\"from\":\"develop\"}\n1:-\n"))
        #expect(none.computedHash != dash.computedHash)
    }

    @Test("canonicalText: lengths count UTF-8 bytes, so text cannot move between fields unnoticed")
    func lengthsAreBytes() throws {
        var event = try Self.sample()
        event.actor = "zoë"
        #expect(event.canonicalText.contains("\n4:zoë\n"))
        var shifted = try Self.sample()
        shifted.action = "promote"
        shifted.environment = ".startedmain"
        var original = try Self.sample()
        original.action = "promote.started"
        original.environment = "main"
        #expect(shifted.computedHash != original.computedHash)
        var split = try Self.sample()
        split.details = "a\n5:b"
        #expect(split.canonicalText != (try Self.sample()).canonicalText)
    }

    @Test("computedHash is the lowercase hex SHA-256 of canonicalText")
    func computedHash() throws {
        let event = try Self.sample(previousHash: "ab12")
        #expect(event.computedHash == Digest.sha256Hex(event.canonicalText))
        #expect(event.computedHash.count == 64)
        #expect(event.computedHash.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test(
        "Digest.sha256Hex matches the known SHA-256 vectors",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            ("zoë", "2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450"),
        ])
    func digestVectors(text: String, hex: String) {
        #expect(Digest.sha256Hex(text) == hex)
    }

    @Test("every field is covered by the hash")
    func everyFieldCovered() throws {
        let base = try Self.sample(previousHash: "ab12")
        var changes: [AuditEvent] = []
        var e = base
        e.app = "other"
        changes.append(e)
        e = base
        e.sequence = 4
        changes.append(e)
        e = base
        e.at = base.at.adding(TimeSpan(microseconds: 1))
        changes.append(e)
        e = base
        e.actor = "bob"
        changes.append(e)
        e = base
        e.action = "promote.live"
        changes.append(e)
        e = base
        e.environment = nil
        changes.append(e)
        e = base
        e.version = "1.4.3"
        changes.append(e)
        e = base
        e.details = #"{"from":"staging"}"#
        changes.append(e)
        e = base
        e.previousHash = "ab13"
        changes.append(e)
        for changed in changes {
            #expect(changed.computedHash != base.computedHash, "\(changed.canonicalText)")
        }
        // The database id and the stored hash are not part of what is hashed.
        e = base
        e.id = 99
        e.hash = "x"
        #expect(e.computedHash == base.computedHash)
    }

    // MARK: AuditChainVerifier

    @Test("an intact chain verifies, and finish accepts the recorded head")
    func intactChain() throws {
        let events = try chain(8)
        var verifier = verify(events)
        #expect(verifier.problem == nil)
        #expect(verifier.checked == 8)
        verifier.finish(expectedCount: 8, expectedHeadHash: events.last?.hash)
        #expect(verifier.problem == nil)
    }

    @Test("an empty chain verifies against an empty head")
    func emptyChain() {
        var verifier = AuditChainVerifier()
        verifier.finish(expectedCount: 0, expectedHeadHash: nil)
        #expect(verifier.problem == nil)
        #expect(verifier.checked == 0)
    }

    @Test(
        "an altered field is caught at that event",
        arguments: [
            "actor", "action", "environment", "version", "details", "at", "app",
        ])
    func alteredField(field: String) throws {
        var events = try chain(6)
        switch field {
        case "actor": events[3].actor = "mallory"
        case "action": events[3].action = "rollback.live"
        case "environment": events[3].environment = "develop"
        case "version": events[3].version = "6.6.6"
        case "details": events[3].details = #"{"n":666}"#
        case "at": events[3].at = events[3].at.adding(TimeSpan(microseconds: 1))
        default: events[3].app = "other-app"
        }
        let verifier = verify(events)
        #expect(verifier.checked == 3)
        let problem = try #require(verifier.problem)
        #expect(problem.contains("#4"), "\(problem)")
        #expect(problem.contains("altered"), "\(problem)")
    }

    @Test("an event rewritten with a fresh hash breaks the next event's link")
    func rehashedEvent() throws {
        var events = try chain(5)
        events[2].details = #"{"n":"forged"}"#
        events[2].hash = events[2].computedHash
        let verifier = verify(events)
        #expect(verifier.checked == 3)
        let problem = try #require(verifier.problem)
        #expect(problem.contains("#4") && problem.contains("predecessor"), "\(problem)")
    }

    @Test("a broken previous-hash link is caught")
    func brokenLink() throws {
        var events = try chain(5)
        events[1].previousHash = String(repeating: "0", count: 64)
        events[1].hash = events[1].computedHash
        let verifier = verify(events)
        #expect(verifier.checked == 1)
        #expect(verifier.problem?.contains("#2") == true, "\(verifier.problem ?? "")")
        #expect(verifier.problem?.contains("predecessor") == true)
    }

    @Test("the first event must not point at a predecessor")
    func firstEventLink() throws {
        var events = try chain(2)
        events[0].previousHash = String(repeating: "0", count: 64)
        events[0].hash = events[0].computedHash
        let verifier = verify(events)
        #expect(verifier.checked == 0)
        #expect(verifier.problem != nil)
    }

    @Test("a missing sequence number is caught", arguments: [0, 3, 5])
    func missingSequence(removed: Int) throws {
        var events = try chain(7)
        events.remove(at: removed)
        let verifier = verify(events)
        #expect(verifier.checked == Int64(removed))
        let problem = try #require(verifier.problem)
        #expect(problem.contains("#\(removed + 1)") && problem.contains("missing"), "\(problem)")
    }

    @Test("events out of order are caught")
    func reordered() throws {
        var events = try chain(4)
        events.swapAt(1, 2)
        #expect(verify(events).problem != nil)
    }

    @Test("a cut tail is caught by finish", arguments: [1, 2, 5])
    func cutTail(cut: Int) throws {
        let events = try chain(6)
        var verifier = verify(Array(events.dropLast(cut)))
        #expect(verifier.problem == nil, "what is left is itself a valid chain")
        verifier.finish(expectedCount: 6, expectedHeadHash: events.last?.hash)
        let problem = try #require(verifier.problem)
        #expect(problem.contains("#\(6 - cut)") && problem.contains("#6"), "\(problem)")
        #expect(problem.contains("removed"))
    }

    @Test("finish catches a rewritten end: the count matches but the head hash does not")
    func headHashMismatch() throws {
        let events = try chain(3)
        var verifier = verify(events)
        verifier.finish(expectedCount: 3, expectedHeadHash: String(repeating: "f", count: 64))
        let problem = try #require(verifier.problem)
        #expect(problem.contains("#3") && problem.contains("head hash"), "\(problem)")
        #expect(!problem.contains("removed"), "nothing was removed: \(problem)")
    }

    @Test("finish catches events beyond the recorded head")
    func eventsBeyondHead() throws {
        let events = try chain(5)
        var verifier = verify(events)
        verifier.finish(expectedCount: 4, expectedHeadHash: events[3].hash)
        let problem = try #require(verifier.problem)
        #expect(problem.contains("#5") && problem.contains("#4"), "\(problem)")
        #expect(!problem.contains("removed"), "nothing was removed: \(problem)")
    }

    @Test("the first problem is kept; later events are not checked")
    func firstProblemSticks() throws {
        var events = try chain(5)
        events[1].actor = "mallory"
        events[3].actor = "mallory"
        var verifier = AuditChainVerifier()
        let outcomes = [0, 1].map { verifier.check(events[$0]) }
        #expect(outcomes == [true, false])
        let first = verifier.problem
        let later = [2, 3].map { verifier.check(events[$0]) }
        #expect(later == [false, false])
        verifier.finish(expectedCount: 5, expectedHeadHash: events[4].hash)
        #expect(verifier.problem == first)
        #expect(verifier.checked == 1)
    }

    @Test("each app's chain is verified on its own")
    func separateApps() throws {
        let crm = try chain(3, app: "crm-api")
        let billing = try chain(3, app: "billing")
        #expect(verify(crm).problem == nil)
        #expect(verify(billing).problem == nil)
        #expect(crm[0].hash != billing[0].hash)
        #expect(verify([crm[0], billing[1]]).problem != nil)
    }
}
