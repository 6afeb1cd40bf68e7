import ReleaseCore
import Testing

/// A Wednesday, well away from any weekend or DST change.
private let noonText = "2026-06-10T12:00:00Z"

private func makeRelease(_ version: String = "1.4.2", quarantineReason: String? = nil) throws -> ReleaseRecord {
    ReleaseRecord(
        id: 7, version: version, commit: "abc123", artifact: "registry.example.com/crm@sha256:00", notes: nil,
        createdAt: try instant("2026-06-01T00:00:00Z"), createdBy: "ci",
        quarantinedAt: quarantineReason == nil ? nil : try instant("2026-06-02T00:00:00Z"),
        quarantineReason: quarantineReason)
}

private func live(
    _ version: String = "1.4.2", since: Timestamp, state: DeploymentState = .live, verified: Bool = true
)
    -> LiveRelease
{
    LiveRelease(version: version, releaseID: 7, since: since, by: "ci", deploymentID: 40, state: state, verified: verified)
}

/// A promotion of 1.4.2 from develop to main by carol that every gate lets through unless told otherwise.
private func context(
    kind: DeploymentKind = .promote, gates: GatePolicy = GatePolicy(), actor: String = "carol",
    now: Timestamp? = nil, release: ReleaseRecord? = nil, sourceLive: LiveRelease?? = nil,
    requestedVersion: String? = nil, checks: [String: CheckStatus] = [:], approvers: [String] = [],
    adHocFreezes: [AdHocFreeze] = [], forceReason: String? = nil
) throws -> GateContext {
    let now = try now ?? instant(noonText)
    let defaultLive = live(since: now.adding(.seconds(-86_400)))
    return GateContext(
        kind: kind, environment: environment(gates: gates), actor: actor, now: now,
        release: try release ?? makeRelease(),
        sourceEnvironment: kind == .promote ? "develop" : nil,
        sourceLive: kind == .promote ? (sourceLive ?? defaultLive) : nil,
        requestedVersion: requestedVersion, checks: checks, approvers: approvers,
        adHocFreezes: adHocFreezes, forceReason: forceReason)
}

private func gate(
    _ name: String, _ context: GateContext, sourceLocation: SourceLocation = #_sourceLocation
) throws
    -> GateResult
{
    let results = PromotionGate.evaluate(context)
    return try #require(
        results.first { $0.name == name }, "no \(name) gate in \(results.map(\.name))",
        sourceLocation: sourceLocation)
}

@Suite("PromotionGate")
struct PromotionGateTests {
    // MARK: Which gates run

    @Test("a promotion runs every gate in a fixed order, and a permissive one passes them all")
    func promotionOrder() throws {
        let results = PromotionGate.evaluate(try context())
        #expect(results.map(\.name) == ["allowed", "source", "quarantine", "checks", "soak", "approvals", "freeze"])
        #expect(results.allSatisfy { $0.passed }, "\(results.filter { !$0.passed })")
        #expect(results.allSatisfy { $0.earliestPass == nil })
    }

    @Test("a direct deploy has no source or soak gate")
    func deployGates() throws {
        let results = PromotionGate.evaluate(try context(kind: .deploy, gates: GatePolicy(soak: .minutes(30))))
        #expect(results.map(\.name) == ["allowed", "quarantine", "checks", "approvals", "freeze"])
        #expect(results.allSatisfy { $0.passed })
    }

    @Test("a rollback skips checks, soak, approvals and freeze, even when all of them would fail")
    func rollbackSkipsGates() throws {
        let gates = GatePolicy(
            checks: ["tests"], soak: .minutes(30), approvals: 2,
            freezes: [
                .once(
                    from: try instant("2026-06-01T00:00:00Z"),
                    until: try instant("2026-07-01T00:00:00Z"), reason: "summer")
            ])
        let results = PromotionGate.evaluate(
            try context(
                kind: .rollback, gates: gates, checks: ["tests": .failed],
                adHocFreezes: [
                    AdHocFreeze(
                        reason: "incident", until: nil, by: "ops",
                        since: try instant("2026-06-01T00:00:00Z"))
                ]))
        #expect(results.map(\.name) == ["allowed", "quarantine"])
        #expect(results.allSatisfy { $0.passed })
    }

    @Test("a rollback still needs an allowed actor")
    func rollbackNeedsPermission() throws {
        let results = PromotionGate.evaluate(
            try context(
                kind: .rollback, gates: GatePolicy(allowed: ["alice", "bob"]),
                actor: "mallory"))
        #expect(results.first { $0.name == "allowed" }?.passed == false)
    }

    @Test("a rollback to a quarantined release is refused")
    func rollbackRespectsQuarantine() throws {
        let results = PromotionGate.evaluate(try context(kind: .rollback, release: try makeRelease(quarantineReason: "bad migration")))
        #expect(results.first { $0.name == "quarantine" }?.passed == false)
    }

    // MARK: checks

    @Test("no required checks: passes whatever CI recorded")
    func noChecksRequired() throws {
        let result = try gate("checks", context(checks: ["tests": .failed]))
        #expect(result.passed)
    }

    @Test(
        "every required check must have passed",
        arguments: [CheckStatus?.some(.passed), .some(.failed), .some(.pending), .none])
    func requiredChecks(lint: CheckStatus?) throws {
        var checks: [String: CheckStatus] = ["tests": .passed]
        if let lint { checks["lint"] = lint }
        let result = try gate("checks", context(gates: GatePolicy(checks: ["tests", "lint"]), checks: checks))
        #expect(result.passed == (lint == .passed))
        #expect(result.detail.contains("tests passed"))
        #expect(result.detail.contains("lint \(lint?.rawValue ?? "missing")"), "\(result.detail)")
        #expect(result.earliestPass == nil)
    }

    @Test("a check nobody requires does not block, one that is missing does")
    func extraAndMissingChecks() throws {
        let gates = GatePolicy(checks: ["tests"])
        #expect(try gate("checks", context(gates: gates, checks: ["tests": .passed, "flaky": .failed])).passed)
        #expect(try !gate("checks", context(gates: gates, checks: ["flaky": .passed])).passed)
    }

    // MARK: soak

    @Test("soak passes exactly at the boundary")
    func soakAtBoundary() throws {
        let since = try instant("2026-06-10T11:30:00Z")
        let now = try instant(noonText)
        let result = try gate("soak", context(gates: GatePolicy(soak: .minutes(30)), now: now, sourceLive: live(since: since)))
        #expect(result.passed, "\(result.detail)")
        #expect(result.earliestPass == nil)
    }

    @Test("soak one microsecond short fails, and says when it will pass")
    func soakOneMicrosecondShort() throws {
        let since = try instant("2026-06-10T11:30:00.000001Z")
        let now = try instant(noonText)
        let result = try gate("soak", context(gates: GatePolicy(soak: .minutes(30)), now: now, sourceLive: live(since: since)))
        #expect(!result.passed)
        #expect(result.earliestPass == since.adding(.minutes(30)))
        #expect(result.earliestPass == (try instant("2026-06-10T12:00:00.000001Z")))
        #expect(result.detail.contains("2026-06-10T12:00:00.000001Z"), "\(result.detail)")
    }

    @Test("soak one second short fails; the earliest pass is exactly one second later")
    func soakOneSecondShort() throws {
        let now = try instant(noonText)
        let since = now.adding(.seconds(-(30 * 60 - 1)))
        let result = try gate("soak", context(gates: GatePolicy(soak: .minutes(30)), now: now, sourceLive: live(since: since)))
        #expect(!result.passed)
        #expect(result.earliestPass == now.adding(.seconds(1)))
        #expect(result.detail.contains("for 29m59s") || result.detail.contains("1799s"), "\(result.detail)")
    }

    @Test("soak counts from when the source became healthy again, not from its cutover")
    func soakRestartsAfterAnUnhealthySpell() throws {
        let now = try instant(noonText)
        let since = now.adding(.minutes(-300))
        let recovered = now.adding(.minutes(-10))
        var healed = try context(gates: GatePolicy(soak: .minutes(30)), now: now, sourceLive: live(since: since))
        healed.sourceHealth = "healthy"
        healed.sourceRecoveredAt = recovered
        let result = try gate("soak", healed)
        #expect(!result.passed, "a break ten minutes ago restarts the 30m soak")
        #expect(result.earliestPass == recovered.adding(.minutes(30)))
        #expect(result.detail.contains("healthy again on develop"), "\(result.detail)")

        var earlier = healed
        earlier.sourceRecoveredAt = since.adding(.seconds(-60))
        #expect(try gate("soak", earlier).passed, "a recovery before this release's cutover does not count against it")
    }

    @Test("a release held after inconclusive signals soaks from when a person accepted it, not from its cutover")
    func soakCountsFromAcceptance() throws {
        let now = try instant(noonText)
        var accepted = live(since: now.adding(.minutes(-300)))
        accepted.acceptedAt = now.adding(.minutes(-5))
        let result = try gate("soak", context(gates: GatePolicy(soak: .minutes(30)), now: now, sourceLive: accepted))
        #expect(!result.passed, "held for hours, accepted five minutes ago: 25 minutes to go")
        #expect(result.earliestPass == now.adding(.minutes(25)))
        #expect(result.detail.hasPrefix("accepted on develop for 5m"), "\(result.detail)")
    }

    @Test("soak fails while the source's last probe is unhealthy, with no earliest pass")
    func soakFailsWhileUnhealthy() throws {
        var sick = try context(gates: GatePolicy(soak: .minutes(30)))
        sick.sourceHealth = "unhealthy"
        let result = try gate("soak", sick)
        #expect(!result.passed)
        #expect(result.earliestPass == nil)
        #expect(result.detail.contains("starts over once it is healthy again"), "\(result.detail)")
    }

    @Test("soak long past the boundary passes; without a soak setting there is nothing to wait for")
    func soakLongPast() throws {
        let since = try instant("2026-06-01T00:00:00Z")
        #expect(try gate("soak", context(gates: GatePolicy(soak: .seconds(7200)), sourceLive: live(since: since))).passed)
        #expect(try gate("soak", context(sourceLive: live(since: try instant(noonText)))).passed)
    }

    @Test("soak fails when nothing is live on the source")
    func soakWithoutSource() throws {
        let result = try gate("soak", context(gates: GatePolicy(soak: .minutes(30)), sourceLive: .some(nil)))
        #expect(!result.passed)
    }

    // MARK: approvals

    @Test(
        "approvals: the promoter's own approval never counts, duplicates count once",
        arguments: [
            (needed: 1, approvers: [String](), passes: false),
            (needed: 1, approvers: ["carol"], passes: false),
            (needed: 1, approvers: ["carol", "carol"], passes: false),
            (needed: 1, approvers: ["dave"], passes: true),
            (needed: 1, approvers: ["carol", "dave"], passes: true),
            (needed: 2, approvers: ["dave", "dave"], passes: false),
            (needed: 2, approvers: ["dave", "carol"], passes: false),
            (needed: 2, approvers: ["dave", "erin"], passes: true),
            (needed: 3, approvers: ["dave", "erin", "carol", "dave"], passes: false),
            (needed: 3, approvers: ["dave", "erin", "frank"], passes: true),
            (needed: 0, approvers: [String](), passes: true),
        ])
    func approvals(needed: Int, approvers: [String], passes: Bool) throws {
        let result = try gate("approvals", context(gates: GatePolicy(approvals: needed), actor: "carol", approvers: approvers))
        #expect(result.passed == passes, "\(approvers) for \(needed): \(result.detail)")
    }

    @Test("approvals detail counts distinct approvers and says the promoter's approval does not count")
    func approvalsDetail() throws {
        let result = try gate(
            "approvals",
            context(
                gates: GatePolicy(approvals: 2), actor: "carol",
                approvers: ["dave", "carol", "dave"]))
        #expect(!result.passed)
        #expect(result.detail.hasPrefix("1 of 2 approvals (dave)"), "\(result.detail)")
        #expect(result.detail.contains("carol's own approval does not count"))
    }

    // MARK: allowed

    @Test("no allowed list: anyone may operate")
    func allowedAnyone() throws {
        #expect(try gate("allowed", context(actor: "anybody")).passed)
    }

    @Test(
        "an allowed list lets exactly its members through",
        arguments: [
            ("alice", true), ("bob", true), ("carol", false), ("Alice", false), ("alice2", false),
        ])
    func allowedList(actor: String, passes: Bool) throws {
        let result = try gate("allowed", context(gates: GatePolicy(allowed: ["alice", "bob"]), actor: actor))
        #expect(result.passed == passes)
        if !passes { #expect(result.detail.contains("alice, bob"), "the refusal says who may: \(result.detail)") }
    }

    // MARK: quarantine

    @Test("a quarantined release is refused, with its reason")
    func quarantined() throws {
        let result = try gate("quarantine", context(release: try makeRelease(quarantineReason: "failed verification on main")))
        #expect(!result.passed)
        #expect(result.detail.contains("failed verification on main"))
        #expect(try gate("quarantine", context()).passed)
    }

    @Test("no release at all is refused")
    func noRelease() throws {
        let env = environment()
        let result = PromotionGate.evaluate(
            GateContext(
                kind: .deploy, environment: env, actor: "carol",
                now: try instant(noonText), release: nil))
        #expect(result.first { $0.name == "quarantine" }?.passed == false)
    }

    // MARK: source

    @Test("source: nothing live on the source is refused")
    func sourceEmpty() throws {
        let result = try gate("source", context(sourceLive: .some(nil)))
        #expect(!result.passed)
        #expect(result.detail.contains("develop"))
    }

    @Test("source: --version must name what is live on the source")
    func sourceVersionMismatch() throws {
        let mismatch = try gate("source", context(requestedVersion: "1.4.1"))
        #expect(!mismatch.passed)
        #expect(mismatch.detail.contains("1.4.1") && mismatch.detail.contains("1.4.2"), "\(mismatch.detail)")
        #expect(try gate("source", context(requestedVersion: "1.4.2")).passed)
    }

    @Test(
        "source: live but not verified is refused",
        arguments: [(DeploymentState.verifying, false), (.live, false), (.failed, true), (.verifying, true)])
    func sourceNotVerified(state: DeploymentState, verified: Bool) throws {
        let since = try instant("2026-06-09T00:00:00Z")
        let result = try gate("source", context(sourceLive: live(since: since, state: state, verified: verified)))
        #expect(!result.passed, "\(state) verified=\(verified) must not be promoted")
    }

    @Test("source: live and verified passes")
    func sourceVerified() throws {
        #expect(try gate("source", context()).passed)
    }

    // MARK: freeze: one-off windows

    @Test(
        "a one-off freeze covers [from, until)",
        arguments: [
            ("2026-12-23T23:59:59.999999Z", false),
            ("2026-12-24T00:00:00Z", true),
            ("2026-12-25T12:00:00Z", true),
            ("2026-12-26T23:59:59.999999Z", true),
            ("2026-12-27T00:00:00Z", false),
        ])
    func oneOffWindow(now: String, frozen: Bool) throws {
        let gates = GatePolicy(freezes: [
            .once(
                from: try instant("2026-12-24T00:00:00Z"),
                until: try instant("2026-12-27T00:00:00Z"), reason: "holidays")
        ])
        let result = try gate("freeze", context(gates: gates, now: instant(now)))
        #expect(result.passed == !frozen)
        if frozen {
            #expect(result.earliestPass == (try instant("2026-12-27T00:00:00Z")))
            #expect(result.detail.contains("holidays"))
            #expect(result.detail.contains("2026-12-27T00:00:00.000000Z"))
        } else {
            #expect(result.earliestPass == nil)
        }
    }

    // MARK: freeze: weekly windows

    private static let weekend = "fri 16:00 - mon 08:00"

    @Test(
        "a weekly window that wraps across the week end",
        arguments: [
            // now (UTC), frozen, earliest pass
            ("2026-06-12T15:59:59.999999Z", false, nil),  // Friday just before
            ("2026-06-12T16:00:00Z", true, "2026-06-15T08:00:00Z"),  // Friday at the start
            ("2026-06-13T10:00:00Z", true, "2026-06-15T08:00:00Z"),  // Saturday
            ("2026-06-14T23:59:59Z", true, "2026-06-15T08:00:00Z"),  // Sunday, last second of the week
            ("2026-06-15T00:00:00Z", true, "2026-06-15T08:00:00Z"),  // Monday, first instant of the week
            ("2026-06-15T07:59:59.999999Z", true, "2026-06-15T08:00:00Z"),  // Monday, just before the end
            ("2026-06-15T08:00:00Z", false, nil),  // Monday at the end
            ("2026-06-17T12:00:00Z", false, nil),  // Wednesday
        ] as [(String, Bool, String?)])
    func weeklyWrapping(now: String, frozen: Bool, end: String?) throws {
        let window = try #require(WeeklyWindow(parsing: Self.weekend, timeZone: "UTC"))
        let gates = GatePolicy(freezes: [.weekly(window, reason: "no weekend deploys")])
        let result = try gate("freeze", context(gates: gates, now: instant(now)))
        #expect(result.passed == !frozen, "\(now): \(result.detail)")
        #expect(result.earliestPass == (try end.map { try instant($0) }))
    }

    @Test(
        "a weekly window across midnight",
        arguments: [
            ("2026-06-09T21:59:59Z", false, nil),  // Tuesday
            ("2026-06-09T22:00:00Z", true, "2026-06-10T06:00:00Z"),
            ("2026-06-09T23:59:59.999999Z", true, "2026-06-10T06:00:00Z"),
            ("2026-06-10T00:00:00Z", true, "2026-06-10T06:00:00Z"),  // Wednesday
            ("2026-06-10T05:59:59.999999Z", true, "2026-06-10T06:00:00Z"),
            ("2026-06-10T06:00:00Z", false, nil),
            ("2026-06-10T22:30:00Z", false, nil),  // Wednesday night is not Tuesday night
        ] as [(String, Bool, String?)])
    func weeklyAcrossMidnight(now: String, frozen: Bool, end: String?) throws {
        let window = try #require(WeeklyWindow(parsing: "tue 22:00 - wed 06:00", timeZone: "UTC"))
        let gates = GatePolicy(freezes: [.weekly(window, reason: "nightly batch")])
        let result = try gate("freeze", context(gates: gates, now: instant(now)))
        #expect(result.passed == !frozen, "\(now): \(result.detail)")
        #expect(result.earliestPass == (try end.map { try instant($0) }))
    }

    /// Europe/Berlin moves from CET (+01:00) to CEST (+02:00) on Sunday 2026-03-29 at 01:00Z,
    /// and back on Sunday 2026-10-25 at 01:00Z.
    @Test(
        "a weekly window in Europe/Berlin across the spring and autumn DST changes",
        arguments: [
            // March: opens Friday 16:00 CET = 15:00Z, closes Monday 08:00 CEST = 06:00Z.
            ("2026-03-27T14:59:59.999999Z", false, nil),
            ("2026-03-27T15:00:00Z", true, "2026-03-30T06:00:00Z"),
            ("2026-03-29T00:59:59Z", true, "2026-03-30T06:00:00Z"),  // Sunday, still CET
            ("2026-03-29T01:30:00Z", true, "2026-03-30T06:00:00Z"),  // Sunday, already CEST
            ("2026-03-30T05:59:59.999999Z", true, "2026-03-30T06:00:00Z"),
            ("2026-03-30T06:00:00Z", false, nil),
            // October: opens Friday 16:00 CEST = 14:00Z, closes Monday 08:00 CET = 07:00Z.
            ("2026-10-23T13:59:59.999999Z", false, nil),
            ("2026-10-23T14:00:00Z", true, "2026-10-26T07:00:00Z"),
            ("2026-10-25T00:30:00Z", true, "2026-10-26T07:00:00Z"),  // 02:30 CEST, before the change
            ("2026-10-25T01:30:00Z", true, "2026-10-26T07:00:00Z"),  // 02:30 CET, after it
            ("2026-10-26T06:00:00Z", true, "2026-10-26T07:00:00Z"),  // 07:00 CET
            ("2026-10-26T06:59:59.999999Z", true, "2026-10-26T07:00:00Z"),
            ("2026-10-26T07:00:00Z", false, nil),
        ] as [(String, Bool, String?)])
    func weeklyInBerlinAcrossDST(now: String, frozen: Bool, end: String?) throws {
        let window = try #require(WeeklyWindow(parsing: Self.weekend, timeZone: "Europe/Berlin"))
        let gates = GatePolicy(freezes: [.weekly(window, reason: "no weekend deploys")])
        let result = try gate("freeze", context(gates: gates, now: instant(now)))
        #expect(result.passed == !frozen, "\(now): \(result.detail)")
        #expect(result.earliestPass == (try end.map { try instant($0) }), "\(now)")
    }

    // MARK: freeze: ad-hoc

    @Test("an ad-hoc freeze without an end holds until unfrozen, with no earliest pass")
    func adHocWithoutEnd() throws {
        let freeze = AdHocFreeze(reason: "incident 42", until: nil, by: "ops", since: try instant("2026-06-10T11:00:00Z"))
        let result = try gate("freeze", context(adHocFreezes: [freeze]))
        #expect(!result.passed)
        #expect(result.earliestPass == nil)
        #expect(result.detail.contains("incident 42, by ops"), "\(result.detail)")
        #expect(result.detail.contains("release unfreeze main"), "\(result.detail)")
    }

    @Test(
        "an ad-hoc freeze with an end holds until exactly that instant",
        arguments: [
            ("2026-06-10T10:59:59.999999Z", false),  // before it started
            ("2026-06-10T11:00:00Z", true),
            ("2026-06-10T13:59:59.999999Z", true),
            ("2026-06-10T14:00:00Z", false),
        ])
    func adHocWithEnd(now: String, frozen: Bool) throws {
        let freeze = AdHocFreeze(
            reason: "db upgrade", until: try instant("2026-06-10T14:00:00Z"), by: "ops",
            since: try instant("2026-06-10T11:00:00Z"))
        let result = try gate("freeze", context(now: instant(now), adHocFreezes: [freeze]))
        #expect(result.passed == !frozen)
        #expect(result.earliestPass == (frozen ? try instant("2026-06-10T14:00:00Z") : nil))
    }

    // MARK: freeze: override

    @Test("--force by an allowed actor overrides a freeze, and says so")
    func forceByAllowedActor() throws {
        let freeze = AdHocFreeze(reason: "incident", until: nil, by: "ops", since: try instant("2026-06-10T11:00:00Z"))
        let result = try gate(
            "freeze",
            context(
                gates: GatePolicy(allowed: ["alice", "bob"]), actor: "alice",
                adHocFreezes: [freeze], forceReason: "security fix"))
        #expect(result.passed)
        #expect(result.detail.contains("overridden by alice: security fix"), "\(result.detail)")
    }

    @Test("--force by an actor who is not allowed does not override the freeze")
    func forceByOtherActor() throws {
        let freeze = AdHocFreeze(reason: "incident", until: nil, by: "ops", since: try instant("2026-06-10T11:00:00Z"))
        let results = PromotionGate.evaluate(
            try context(
                gates: GatePolicy(allowed: ["alice", "bob"]), actor: "mallory",
                adHocFreezes: [freeze], forceReason: "trust me"))
        #expect(results.first { $0.name == "freeze" }?.passed == false)
        #expect(results.first { $0.name == "allowed" }?.passed == false)
    }

    @Test("--force overrides only the freeze, not the other gates")
    func forceOnlyFreeze() throws {
        let freeze = AdHocFreeze(reason: "incident", until: nil, by: "ops", since: try instant("2026-06-10T11:00:00Z"))
        let results = PromotionGate.evaluate(
            try context(
                gates: GatePolicy(checks: ["tests"], approvals: 1),
                adHocFreezes: [freeze], forceReason: "hotfix"))
        #expect(results.first { $0.name == "freeze" }?.passed == true)
        #expect(results.first { $0.name == "checks" }?.passed == false)
        #expect(results.first { $0.name == "approvals" }?.passed == false)
    }

    // MARK: freeze: chains

    @Test("overlapping freezes chain to the latest end")
    func overlappingChain() throws {
        let gates = GatePolicy(freezes: [
            .once(from: try instant("2026-06-10T00:00:00Z"), until: try instant("2026-06-11T00:00:00Z"), reason: "a"),
            .once(from: try instant("2026-06-10T20:00:00Z"), until: try instant("2026-06-12T00:00:00Z"), reason: "b"),
            .once(from: try instant("2026-06-12T00:00:00Z"), until: try instant("2026-06-12T06:00:00Z"), reason: "c"),
        ])
        let adHoc = AdHocFreeze(
            reason: "d", until: try instant("2026-06-13T00:00:00Z"), by: "ops",
            since: try instant("2026-06-12T05:00:00Z"))
        let result = try gate("freeze", context(gates: gates, adHocFreezes: [adHoc]))
        #expect(!result.passed)
        #expect(result.earliestPass == (try instant("2026-06-13T00:00:00Z")))
        // Only the freezes active now are named.
        #expect(result.detail.contains("(a)"), "\(result.detail)")
    }

    @Test("a freeze that starts after the current one ends does not extend it")
    func gapBreaksChain() throws {
        let gates = GatePolicy(freezes: [
            .once(from: try instant("2026-06-10T00:00:00Z"), until: try instant("2026-06-11T00:00:00Z"), reason: "a"),
            .once(from: try instant("2026-06-11T00:00:00.000001Z"), until: try instant("2026-06-12T00:00:00Z"), reason: "b"),
        ])
        let result = try gate("freeze", context(gates: gates))
        #expect(result.earliestPass == (try instant("2026-06-11T00:00:00Z")))
    }

    @Test("a weekly window chained into a one-off window ends at the later end")
    func weeklyThenOnce() throws {
        let window = try #require(WeeklyWindow(parsing: Self.weekend, timeZone: "UTC"))
        let gates = GatePolicy(freezes: [
            .weekly(window, reason: "weekend"),
            .once(from: try instant("2026-06-15T08:00:00Z"), until: try instant("2026-06-15T12:00:00Z"), reason: "migration"),
        ])
        let result = try gate("freeze", context(gates: gates, now: instant("2026-06-13T10:00:00Z")))
        #expect(!result.passed)
        #expect(result.earliestPass == (try instant("2026-06-15T12:00:00Z")))
    }

    @Test("a chain that reaches an ad-hoc freeze without an end has no earliest pass")
    func chainIntoEndlessFreeze() throws {
        let gates = GatePolicy(freezes: [
            .once(from: try instant("2026-06-10T00:00:00Z"), until: try instant("2026-06-11T00:00:00Z"), reason: "a")
        ])
        // Starts after now, so it is not active yet, but it is by the time "a" ends.
        let endless = AdHocFreeze(reason: "incident", until: nil, by: "ops", since: try instant("2026-06-10T18:00:00Z"))
        let result = try gate("freeze", context(gates: gates, adHocFreezes: [endless]))
        #expect(!result.passed)
        #expect(result.earliestPass == nil)
        #expect(result.detail.contains("release unfreeze main"), "\(result.detail)")
    }

    @Test("activeFreezes names every active freeze with its reason")
    func activeFreezeReasons() throws {
        let gates = GatePolicy(freezes: [
            .once(from: try instant("2026-06-10T00:00:00Z"), until: try instant("2026-06-11T00:00:00Z"), reason: "release week"),
            .once(from: try instant("2026-07-10T00:00:00Z"), until: try instant("2026-07-11T00:00:00Z"), reason: "later"),
        ])
        let adHoc = AdHocFreeze(
            reason: "incident", until: try instant("2026-06-10T13:00:00Z"), by: "ops",
            since: try instant("2026-06-10T11:00:00Z"))
        let (reasons, end) = PromotionGate.activeFreezes(try context(gates: gates, adHocFreezes: [adHoc]))
        #expect(reasons == ["release week", "incident, by ops"])
        #expect(end == (try instant("2026-06-11T00:00:00Z")))
        let none = PromotionGate.activeFreezes(try context(gates: gates, now: instant("2026-06-20T00:00:00Z")))
        #expect(none.reasons.isEmpty)
        #expect(none.end == nil)
    }
}
