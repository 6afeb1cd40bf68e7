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
            let actions = (try await harness.run("audit", "--json").json?["events"]?.arrayValue ?? []).compactMap { $0["action"]?.stringValue }
            #expect(actions.contains("migrations.recorded") && actions.contains("schema.accepted"))
        }
    }
}
