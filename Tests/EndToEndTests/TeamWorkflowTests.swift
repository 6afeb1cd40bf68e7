import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The team workflow around promotion through the built binary: `watch`, notifications to
/// loopback receivers (one of them down), branch sync against a local bare repository, and a
/// soak that an unhealthy spell restarts.
@Suite struct TeamWorkflowTests {
    /// 1.0.0 then 1.0.1 promoted to main, both healthy.
    private static func twoReleasesOnMain(
        _ harness: Harness, commits: [String] = ["abc1234", "abc1235"],
        environment: [String: String] = [:]
    ) async throws {
        for (version, commit) in zip(["1.0.0", "1.0.1"], commits) {
            try await harness.create(version, "--commit", commit)
            try await harness.must(["deploy", version, "develop"], environment: environment)
            try await harness.must(["promote", "develop", "main"], environment: environment)
        }
    }

    @Test func watchRollsBackAReleaseThatFailsLaterButNeverARollback() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            try await Self.twoReleasesOnMain(harness)

            let calm = try await harness.run("watch", "main", "--for", "500ms")
            #expect(calm.status == 0, "\(calm)")
            #expect(calm.stdout.contains("1.0.1 stayed healthy on main for 500ms"), "\(calm)")

            try harness.setHealth("1.0.1", "broken")
            let failed = try await harness.run("watch", "main", "--for", "20s")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("1.0.1 is quarantined; main was rolled back to 1.0.0"), "\(failed)")
            #expect(try await harness.served("main") == "1.0.0")
            let audit = try await harness.run("audit", "--env", "main", "--format", "json")
            let actions = audit.json?["events"]?.arrayValue?.compactMap { $0["action"]?.stringValue } ?? []
            #expect(actions.contains("watch.passed"))
            #expect(actions.contains("watch.failed"))
            #expect(actions.contains("rollback.live"))
            let again = try await harness.run("promote", "develop", "main")
            #expect(again.status == 3, "the release that failed the watch is quarantined: \(again)")

            // What is live now came from a rollback: a failure is reported, never rolled back.
            try harness.setHealth("1.0.0", "broken")
            let degraded = try await harness.run("watch", "main", "--for", "20s")
            #expect(degraded.status == 1, "\(degraded)")
            #expect(degraded.stderr.contains("A rollback is never rolled back"), "\(degraded)")
            #expect(try await harness.served("main") == "1.0.0")
            let status = try await harness.run("status", "main", "--json")
            #expect(status.json?["environments"]?.arrayValue?.first?["health"]?.stringValue == "unhealthy", "\(status)")

            for (arguments, message) in [
                (["watch", "main", "--for", "soon"], "--for takes a duration"),
                (["watch", "staging"], "Unknown environment 'staging'"),
            ] {
                let before = try await harness.snapshot()
                let bad = try await harness.run(arguments)
                #expect(bad.status == 2, "\(bad)")
                #expect(bad.stderr.contains(message), "\(bad)")
                #expect(try await harness.snapshot() == before)
            }
        }
    }

    /// An automatic rollback is one thing whichever check found the failure: the watch's, like a
    /// failed verification's, passes the gates of every rollback (`allowed:`, never a freeze), and
    /// is recorded and announced the same way.
    @Test func theWatchRollsBackByTheSameRuleAsAFailedVerification() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: "allowed: [alice]"))
            try await Self.twoReleasesOnMain(harness)
            try harness.setHealth("1.0.1", "broken")
            let refused = try await harness.run(["watch", "main", "--for", "20s"], environment: ["RELEASE_ACTOR": "ci-bot"])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("1.0.1 failed its health probe on main during the watch ("), "\(refused)")
            #expect(
                refused.stderr.contains(
                    "1.0.1 is quarantined and still serving on main: the automatic rollback could not start: "
                        + "its gates refused it (allowed: ci-bot may not operate on main; allowed: alice)"), "\(refused)")
            #expect(try await harness.served("main") == "1.0.1")

            let watch = try await harness.run("watch", "main", "--for", "20s")
            #expect(watch.status == 1, "\(watch)")
            #expect(watch.stderr.contains("1.0.1 is quarantined; main was rolled back to 1.0.0 and is healthy."), "\(watch)")
            #expect(try await harness.served("main") == "1.0.0")
            let audit = try await harness.run("audit", "--env", "main", "--format", "json")
            let events = audit.json?["events"]?.arrayValue ?? []
            let failed = try #require(events.last { $0["action"]?.stringValue == "watch.failed" }, "\(audit)")
            let rollback = try #require(events.last { $0["action"]?.stringValue == "rollback.started" }, "\(audit)")
            #expect(rollback["details"]?["automatic"] == .bool(true), "\(rollback)")
            #expect(rollback["details"]?["rollback_of"] == failed["details"]?["deployment"], "\(rollback) \(failed)")
            let history = try await harness.run("history", "main", "--json")
            let states = history.json?["deployments"]?.arrayValue?.compactMap { $0["state"]?.stringValue } ?? []
            #expect(states.prefix(2) == ["live", "superseded"], "the rollback is live, what the watch found bad superseded: \(history)")
        }
    }

    /// The first release an environment gets fails its health check: there is nothing to roll back
    /// to, so the advice is how a fix reaches that environment, and `watch` says the release failed
    /// (exit 1) rather than blaming the command line.
    @Test func aFirstReleaseThatFailsSaysHowToShipAFixNotToRollBack() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(harness.defaultConfig(mainGates: ""))
            try await harness.create("1.0.0", health: "broken")
            let deploy = try await harness.run("deploy", "1.0.0", "develop")
            #expect(deploy.status == 1, "\(deploy)")
            #expect(
                deploy.stderr.contains(
                    "there is no earlier verified release to roll back to. "
                        + "Deploy a fixed release: `release create VERSION`, then `release deploy VERSION develop`."), "\(deploy)")
            #expect(!deploy.stderr.contains("release rollback"), "\(deploy)")

            let watch = try await harness.run("watch", "develop", "--for", "5s")
            #expect(watch.status == 1, "a failed release is exit 1, not a usage error: \(watch)")
            #expect(
                watch.stderr.contains(
                    "1.0.0 is quarantined and still serving on develop: "
                        + "there is no earlier verified release to roll back to. Deploy a fixed release"),
                "\(watch)")
            let rollback = try await harness.run("rollback", "develop", "--reason", "incident")
            #expect(rollback.status == 2 && rollback.stderr.contains("Deploy a fixed release"), "\(rollback)")

            try await harness.createAndDeploy("1.1.0", health: "broken-on=main")
            let promote = try await harness.run("promote", "develop", "main")
            #expect(promote.status == 1, "\(promote)")
            #expect(
                promote.stderr.contains(
                    "there is no earlier verified release to roll back to. Promote a fixed release from develop: `release promote develop main`."),
                "\(promote)")
        }
    }

    @Test func promotionsRollbacksFailuresAndFreezesAreAnnouncedAndADownReceiverNeverFailsThem() async throws {
        try await FakeAPI.receiver { receiver in
            try await Harness.with { harness in
                try harness.writeConfig(
                    harness.defaultConfig(mainGates: "") + """
                        notify:
                          webhooks:
                            - {url: "\(receiver.url)/hooks/T000/B000/XXXXSECRETPATH"}
                            - {url: "\(receiver.url)/slack/services/T111/B111/YYYYSECRETPATH", format: slack}
                            - {url: "http://127.0.0.1:9/nobody-listens/ZZZZSECRETPATH"}
                          github_issues: {repo: acme/crm-api, labels: [release, incident]}

                        """)
                let github = ["GITHUB_TOKEN": receiver.apiKey, "GITHUB_API_URL": receiver.url]
                harness.environment.merge(github) { $1 }
                try await harness.create("1.0.0", "--commit", "abc1234")
                try await harness.must("deploy", "1.0.0", "develop")
                #expect(try await receiver.requests().isEmpty, "a deploy to develop is not announced")
                let promote = try await harness.run("promote", "develop", "main")
                #expect(promote.status == 0, "\(promote)")
                #expect(promote.stderr.contains("Warning: the notification to http://127.0.0.1:9/… failed"), "\(promote)")
                var requests = try await receiver.requests()
                let hook = try #require(requests.first { $0.path.hasPrefix("/hooks/") })
                #expect(hook.body?["event"]?.stringValue == "promote.live")
                #expect(hook.body?["version"]?.stringValue == "1.0.0")
                #expect(hook.body?["environment"]?.stringValue == "main")
                #expect(hook.body?["actor"]?.stringValue == "alice")
                #expect(hook.body?["commit"]?.stringValue == "abc1234")
                let slack = try #require(requests.first { $0.path.hasPrefix("/slack/") })
                #expect(slack.body?["text"]?.stringValue?.contains("1.0.0 promoted to main") == true, "\(String(describing: slack.body))")
                #expect(slack.body?["blocks"]?.arrayValue?.isEmpty == false)
                #expect(!requests.contains { $0.path.hasPrefix("/repos/") }, "a good promotion opens no issue")

                // A promotion that fails main's probe: announced with the rollback, and an issue.
                try await harness.createAndDeploy("1.0.1", health: "broken-on=main")
                let failed = try await harness.run("promote", "develop", "main")
                #expect(failed.status == 1, "\(failed)")
                requests = try await receiver.requests()
                let failure = try #require(requests.last { $0.path.hasPrefix("/hooks/") })
                #expect(failure.body?["event"]?.stringValue == "promote.failed")
                #expect(failure.body?["rolled_back_to"]?.stringValue == "1.0.0")
                let issues = requests.filter { $0.path == "/repos/acme/crm-api/issues" }
                #expect(issues.count == 1, "one issue for one incident, not one per step")
                let issue = try #require(issues.first)
                #expect(issue.body?["title"]?.stringValue == "crm-api: promotion of 1.0.1 to main failed, rolled back to 1.0.0")
                #expect(issue.body?["labels"] == .array([.string("release"), .string("incident")]))
                #expect(issue.headers?["Authorization"]?.stringValue == "Bearer \(receiver.apiKey)")
                #expect(issue.headers?["X-GitHub-Api-Version"]?.stringValue == "2022-11-28")

                // A receiver that keeps failing is tried a bounded number of times; the freeze stands.
                try await receiver.control(.object([("fail", .int(100)), ("status", .int(500))]))
                let before = try await receiver.requests().count
                let freeze = try await harness.run("freeze", "main", "--reason", "black friday")
                #expect(freeze.status == 0, "\(freeze)")
                #expect(freeze.stderr.contains("answered HTTP 500"), "\(freeze)")
                let attempts = try await receiver.requests().dropFirst(before)
                #expect(attempts.filter { $0.path.hasPrefix("/hooks/") }.count == 3)
                #expect(attempts.filter { $0.path.hasPrefix("/slack/") }.count == 3)
                #expect(attempts.first { $0.path.hasPrefix("/hooks/") }?.body?["event"]?.stringValue == "freeze.started")
                #expect(try await harness.run("status", "main", "--json").json?["environments"]?.arrayValue?.first?["frozen"] != .bool(false))

                for output in [promote.output, failed.output, freeze.output] {
                    #expect(!output.contains("SECRETPATH"), "webhook paths are secrets")
                    #expect(!output.contains(receiver.apiKey))
                }
                let audit = try await harness.run("audit", "--format", "json")
                #expect(!audit.stdout.contains("SECRETPATH") && !audit.stdout.contains(receiver.apiKey))
            }
        }
    }

    @Test func mainsBranchIsFastForwardedToWhatWentLiveAndNeverMovedOtherwise() async throws {
        try await Harness.with { harness in
            let git = GitFixture(root: harness.directory + "/git")
            try git.setUp()
            let first = try git.commit("first")
            try git.push(first, to: "main")
            let second = try git.commit("second")
            let sibling = try git.commit("sibling", parent: first)
            try harness.writeConfig(
                harness.defaultConfig(mainGates: "").replacingOccurrences(
                    of: "    promote_from: develop\n",
                    with: "    promote_from: develop\n    git: {branch: main, remote: origin, repository: \"\(git.work)\"}\n"))

            try await Self.twoReleasesOnMain(harness, commits: [second, sibling])
            // 1.0.0 (second) fast-forwarded main from first; 1.0.1 (a sibling of second) is no fast-forward.
            #expect(try git.remoteHead("main") == second)
            let audit = try await harness.run("audit", "--env", "main", "--format", "json")
            let events = audit.json?["events"]?.arrayValue ?? []
            let synced = try #require(events.first { $0["action"]?.stringValue == "git.synced" })
            #expect(synced["details"]?["from"]?.stringValue == first)
            #expect(synced["details"]?["commit"]?.stringValue == second)
            let refused = try #require(events.first { $0["action"]?.stringValue == "git.sync_refused" })
            #expect(refused["details"]?["reason"]?.stringValue?.contains("not a fast-forward") == true)
            #expect(try await harness.live("main") == "1.0.1", "a refused sync never undoes a promotion")

            // A later release that descends from main's commit moves it again; a short commit id is fine.
            let third = try git.commit("third", parent: second)
            try await harness.create("1.0.2", "--commit", String(third.prefix(10)))
            try await harness.must("deploy", "1.0.2", "develop")
            let promote = try await harness.run("promote", "develop", "main")
            #expect(promote.status == 0, "\(promote)")
            #expect(promote.stderr.contains("Fast-forwarded origin/main to \(third.prefix(12))"), "\(promote)")
            #expect(try git.remoteHead("main") == third)
        }
    }

    @Test func anUnhealthySpellOnDevelopRestartsTheSoak() async throws {
        try await Harness.with { harness in
            // A soak far longer than the test, so no assertion depends on how fast the machine is.
            try harness.writeConfig(harness.defaultConfig(mainGates: "soak: 5m"))
            try await harness.createAndDeploy("1.0.0")
            func soakGate() async throws -> JSONValue? {
                let dryRun = try await harness.run("promote", "develop", "main", "--dry-run", "--json")
                #expect(dryRun.status == 3, "\(dryRun)")
                return dryRun.json?["gates"]?.arrayValue?.first { $0["name"]?.stringValue == "soak" }
            }
            let fresh = try await soakGate()
            #expect(fresh?["detail"]?.stringValue?.contains("live on develop for") == true, "\(String(describing: fresh))")
            let firstEarliest = try #require(fresh?["earliest"]?.stringValue.flatMap(Timestamp.init(parsing:)))

            try harness.setHealth("1.0.0", "broken")
            #expect(try await harness.run("probe", "develop").status == 1)
            let sick = try await soakGate()
            #expect(sick?["detail"]?.stringValue?.contains("last health probe failed") == true, "\(String(describing: sick))")
            #expect(sick?["earliest"] == .null, "no earliest pass while unhealthy")

            try harness.setHealth("1.0.0", "ok")
            #expect(try await harness.run("probe", "develop").status == 0)
            let healed = try await soakGate()
            #expect(healed?["detail"]?.stringValue?.contains("healthy again on develop") == true, "\(String(describing: healed))")
            let restartedEarliest = try #require(healed?["earliest"]?.stringValue.flatMap(Timestamp.init(parsing:)))
            #expect(firstEarliest < restartedEarliest, "the soak starts over from the recovery")
        }
    }

}

/// A bare "origin" and a working clone, with commits made on demand.
struct GitFixture {
    let root: String
    var origin: String { root + "/origin.git" }
    var work: String { root + "/work" }

    func setUp() throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = try run(["init", "--quiet", "--bare", origin], in: root)
        _ = try run(["init", "--quiet", work], in: root)
        _ = try run(["remote", "add", "origin", origin], in: work)
    }

    /// A commit whose parent is `parent` (default: HEAD, none for the first); returns its id.
    func commit(_ message: String, parent: String? = nil) throws -> String {
        if let parent { _ = try run(["checkout", "--quiet", "--detach", parent], in: work) }
        try message.write(toFile: work + "/\(message).txt", atomically: true, encoding: .utf8)
        _ = try run(["add", "."], in: work)
        _ = try run(["-c", "user.name=CI", "-c", "user.email=ci@example.com", "commit", "--quiet", "-m", message], in: work)
        return try run(["rev-parse", "HEAD"], in: work)
    }

    func push(_ commit: String, to branch: String) throws {
        _ = try run(["push", "--quiet", "origin", "\(commit):refs/heads/\(branch)"], in: work)
    }

    func remoteHead(_ branch: String) throws -> String {
        try run(["rev-parse", "refs/heads/\(branch)"], in: origin)
    }

    @discardableResult
    func run(_ arguments: [String], in directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else { throw TestSupportError("git \(arguments.joined(separator: " ")): \(text)") }
        return text
    }
}
