import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// Schema migrations recorded per release, `release diff`, and the schema gate, through the binary
/// with release.yml in a git repository whose commits add Django migrations.
@Suite struct SchemaEndToEndTests {
    /// Runs git in the harness's directory; its output.
    @discardableResult
    static func git(_ harness: Harness, _ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", harness.directory] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging([
            "GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": "alice@example.com", "GIT_COMMITTER_NAME": "alice",
            "GIT_COMMITTER_EMAIL": "alice@example.com",
        ]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestSupportError("git \(arguments.joined(separator: " ")) failed") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Commits the Django migration `name` (a file Django 5.2 wrote, from the classifier's fixtures); its SHA.
    static func commitMigration(_ harness: Harness, _ name: String, subject: String) throws -> String {
        let fixtures = ProjectPaths.root + "/Tests/ReleaseCoreTests/Fixtures/django/crm/migrations/"
        try FileManager.default.createDirectory(atPath: harness.directory + "/crm/migrations", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixtures + name + ".py", toPath: harness.directory + "/crm/migrations/" + name + ".py")
        try git(harness, "add", "crm")
        try git(harness, "commit", "--quiet", "-m", subject)
        return try git(harness, "rev-parse", "HEAD")
    }

    @Test func aDroppedColumnIsRecordedDiffedAndKeepsARollbackFromCrossingIt() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(
                harness.defaultConfig() + "migrations:\n  framework: django\n  paths: [\"*/migrations/[0-9][0-9][0-9][0-9]_*.py\"]\n")
            try Self.git(harness, "init", "--quiet")
            let first = try Self.commitMigration(harness, "0001_initial", subject: "Contacts")
            let second = try Self.commitMigration(harness, "0006_remove_email", subject: "Drop the \"email\" column")
            try await harness.must(["create", "1.0.0", "--artifact", try harness.artifact("1.0.0"), "--commit", first])
            try await harness.must(["create", "1.1.0", "--artifact", try harness.artifact("1.1.0"), "--commit", second])

            let shown = try await harness.run("migrations", "show", "1.1.0", "--json")
            let records = try #require(shown.json?["migrations"]?.arrayValue, "\(shown)")
            #expect(records.compactMap { $0["id"]?.stringValue } == ["crm/0001_initial", "crm/0006_remove_email"])
            #expect(records.compactMap { $0["class"]?.stringValue } == ["compatible", "incompatible"])

            let unknown = try await harness.run("create", "1.2.0", "--commit", "deadbeef")
            #expect(unknown.status == 2, "\(unknown)")
            #expect(try await harness.run("migrations", "show", "1.2.0").status == 2, "nothing was stored")

            let diff = try #require(try await harness.run("diff", "1.0.0", "1.1.0", "--json").json)
            #expect(diff["commits"]?.arrayValue?.compactMap { $0["subject"]?.stringValue } == ["Drop the \"email\" column"])
            #expect(diff["direction"]?.stringValue == "forward")
            #expect(diff["migrations"]?["added"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["crm/0006_remove_email"])
            #expect(diff["migrations"]?["removed"]?.arrayValue?.isEmpty == true)

            try await harness.must("deploy", "1.0.0", "develop")
            try await harness.must("deploy", "1.1.0", "develop")
            let plan = try await harness.run("rollback", "develop", "--plan")
            #expect(plan.status == 3, "\(plan)")
            #expect(plan.stdout.contains("leaves crm/0006_remove_email (incompatible: RemoveField"), "\(plan)")
            let refused = try await harness.run("rollback", "develop", "--reason", "500s")
            #expect(refused.status == 3 && refused.stderr.contains("schema:"), "\(refused)")
            #expect(try await harness.served("develop") == "1.1.0", "nothing changed")
            let accepted = try await harness.run("rollback", "develop", "--accept-schema", "--reason", "1.0.0 never reads email")
            #expect(accepted.status == 0, "\(accepted)")
            #expect(try await harness.served("develop") == "1.0.0")
            let events = try await harness.run("audit", "--json").json?["events"]?.arrayValue ?? []
            let actions = events.compactMap { $0["action"]?.stringValue }
            #expect(actions.contains("migrations.recorded") && actions.contains("schema.accepted"))
            let started = try #require(events.last { $0["action"]?.stringValue == "rollback.started" })
            let crossed = started["details"]?["migrations"]?["removed"]?.arrayValue?.first
            #expect(crossed?["id"] == .string("crm/0006_remove_email") && crossed?["class"] == .string("incompatible"), "\(started)")
        }
    }

    @Test func anAutomaticRollbackStopsAtADroppedColumnAndAnAcknowledgementOrUnknownRecordsDecide() async throws {
        try await Harness.with { harness in
            try harness.writeConfig(
                harness.defaultConfig(mainGates: "checks: []")
                    + "migrations:\n  framework: django\n  paths: [\"*/migrations/[0-9][0-9][0-9][0-9]_*.py\"]\n")
            try Self.git(harness, "init", "--quiet")
            let first = try Self.commitMigration(harness, "0001_initial", subject: "Contacts")
            let second = try Self.commitMigration(harness, "0006_remove_email", subject: "Drop email")
            try await harness.must(["create", "1.0.0", "--artifact", try harness.artifact("1.0.0"), "--commit", first])
            try await harness.must(["create", "1.1.0", "--artifact", try harness.artifact("1.1.0", health: "broken-on=main"), "--commit", second])
            try await harness.must("deploy", "1.0.0", "develop")
            try await harness.must("promote", "develop", "main")
            try await harness.must("deploy", "1.1.0", "develop")

            // 1.1.0 fails on main; rolling back would put 1.0.0's code on a schema without email.
            let failed = try await harness.run("promote", "develop", "main")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("1.1.0 is quarantined and still serving on main: the automatic rollback could not start"))
            #expect(failed.stderr.contains("schema: leaves crm/0006_remove_email"), "\(failed)")
            #expect(try await harness.served("main") == "1.1.0")

            // Once someone has checked that 1.0.0 never reads email, the rollback may cross it.
            let ack = try await harness.run(
                "migrations", "ack", "1.1.0", "crm/0006_remove_email", "--safe-back-to", "1.0.0", "--reason", "1.0.0 never reads email")
            #expect(ack.status == 0, "\(ack)")
            let rolledBack = try await harness.run("rollback", "main", "--reason", "1.1.0 is broken")
            #expect(rolledBack.status == 0, "\(rolledBack)")
            #expect(try await harness.served("main") == "1.0.0")

            // A release created without --commit has no records: a rollback to or from it is unknown.
            try await harness.must(["create", "1.2.0", "--artifact", try harness.artifact("1.2.0")])
            try await harness.must("deploy", "1.2.0", "develop")
            let unknown = try await harness.run("rollback", "develop", "--plan")
            #expect(unknown.status == 3 && unknown.stdout.contains("unknown: the migrations of 1.2.0 or"), "\(unknown)")
        }
    }

    @Test func reverseMigrationsNeedsItsCommandsAndNeverSwapsCodeUnderASchemaLeftHalfWay() async throws {
        try await Harness.with { harness in
            let migrations = "migrations:\n  framework: django\n  paths: [\"*/migrations/[0-9][0-9][0-9][0-9]_*.py\"]\n"
            try harness.writeConfig(harness.defaultConfig() + migrations)
            try Self.git(harness, "init", "--quiet")
            let first = try Self.commitMigration(harness, "0001_initial", subject: "Contacts")
            let second = try Self.commitMigration(harness, "0006_remove_email", subject: "Drop email")
            try await harness.must(["create", "1.0.0", "--artifact", try harness.artifact("1.0.0"), "--commit", first])
            try await harness.must(["create", "1.1.0", "--artifact", try harness.artifact("1.1.0"), "--commit", second])
            try await harness.must("deploy", "1.0.0", "develop")
            try await harness.must("deploy", "1.1.0", "develop")
            let events = { try await harness.run("audit", "--json").json?["events"]?.arrayValue?.count }
            let before = try await events()

            let unconfigured = try await harness.run("rollback", "develop", "--reverse-migrations", "--reason", "500s")
            #expect(unconfigured.status == 2 && unconfigured.stderr.contains("--reverse-migrations needs reverse: and reverse_plan:"))

            // The plan prints what Django's would; a marker file makes it fail. The reverse kills
            // the `release` that runs it, as a crash in the middle of reversing would.
            let plan = harness.directory + "/plan.sh"
            try """
            [ -e "$0.fail" ] && { echo "could not connect to the database" >&2; exit 1; }
            printf 'Planned operations:\\n%s.0006_remove_email\\n    Undo Remove field email from contact\\n' "$1"
            """.write(toFile: plan, atomically: true, encoding: .utf8)
            let reverse = harness.directory + "/reverse.sh"
            try """
            pid=$$
            while [ "$pid" -gt 1 ]; do
                pid=$(awk '{print $4}' "/proc/$pid/stat")
                [ "$(cat "/proc/$pid/comm")" = release ] && { kill -KILL "$pid"; sleep 5; exit 0; }
            done
            exit 1
            """.write(toFile: reverse, atomically: true, encoding: .utf8)
            try harness.writeConfig(
                harness.defaultConfig() + migrations + "  reverse: \"sh \(reverse) {app} {target}\"\n  reverse_plan: \"sh \(plan) {app} {target}\"\n")
            FileManager.default.createFile(atPath: plan + ".fail", contents: Data())
            let planFails = try await harness.run("rollback", "develop", "--reverse-migrations", "--reason", "500s")
            #expect(planFails.status == 1, "\(planFails)")
            #expect(planFails.stderr.contains("migrations.reverse_plan for crm exited 1 (could not connect to the database); nothing was reversed"))
            #expect(try await events() == before, "nothing was recorded")
            #expect(try await harness.served("develop") == "1.1.0")

            try FileManager.default.removeItem(atPath: plan + ".fail")
            let shown = try await harness.run("rollback", "develop", "--plan", "--reverse-migrations", "--json")
            let steps = try #require(shown.json?["reverse_plan"]?.arrayValue, "\(shown)")
            #expect(steps.first?["app"]?.stringValue == "crm" && steps.first?["target"]?.stringValue == "0001_initial", "\(shown)")
            #expect(steps.first?["migrations"]?.arrayValue == [.string("crm.0006_remove_email")], "\(shown)")

            let killed = try await harness.run("rollback", "develop", "--reverse-migrations", "--reason", "500s")
            #expect(killed.status == SIGKILL, "\(killed)")
            let recovered = try await harness.run("recover", "develop")
            #expect(recovered.status == 1, "\(recovered)")
            #expect(recovered.output.contains("died before it finished; what is applied now is unknown"), "\(recovered)")
            #expect(try await harness.served("develop") == "1.1.0", "the code was never swapped")
            #expect(try await harness.live("develop") == "1.1.0")
        }
    }
}
