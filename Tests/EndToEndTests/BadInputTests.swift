import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// Bad input gets a clear one-line error, the contract's exit code, and no change to stored state.
@Suite struct BadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var message: String
        var config: String?
        var description: String { arguments.joined(separator: " ") }

        /// `release status` under a release.yml of crm-api whose `environments:` are `environments`.
        static func status(environments: String, says message: String) -> Case {
            Case(arguments: ["status"], status: 2, message: message, config: "app: crm-api\nenvironments:\n" + environments)
        }
    }

    static let cases: [Case] = [
        Case(arguments: ["deploy", "1.0.0", "staging"], status: 2, message: "Unknown environment 'staging'"),
        Case(arguments: ["deploy", "9.9.9", "develop"], status: 2, message: "Unknown version '9.9.9' of crm-api."),
        Case(arguments: ["create", "1.0.0", "--commit", "fff9999"], status: 2, message: "already exists with commit abc1234"),
        Case(arguments: ["create", "1.0 beta"], status: 2, message: "not a valid version"),
        Case(arguments: ["create", "1.0.0'; DROP TABLE releases; --"], status: 2, message: "not a valid version"),
        Case(arguments: ["create", "2.0.0", "--commit", "not-a-sha"], status: 2, message: "not a commit id"),
        Case(arguments: ["check", "1.0.0", "tests", "green"], status: 2, message: "use passed, failed or pending"),
        Case(arguments: ["deploy", "1.0.0", "main"], status: 2, message: "only receives promotions from develop"),
        Case(arguments: ["rollback", "develop"], status: 2, message: "needs --reason"),
        Case(arguments: ["rollback", "develop", "--reason", "  "], status: 2, message: "must not be empty"),
        Case(arguments: ["rollback", "develop", "--reason", "x", "--to", "9.9.9"], status: 2, message: "Unknown version"),
        Case(arguments: ["freeze", "main", "--reason", "x", "--until", "2001-01-01T00:00:00Z"], status: 2, message: "in the past"),
        Case(arguments: ["freeze", "main", "--reason", "x", "--until", "tomorrow"], status: 2, message: "RFC 3339"),
        Case(arguments: ["audit", "--since", "yesterday"], status: 2, message: "is not a time"),
        Case(arguments: ["audit", "--at", "2026-02-30T00:00:00Z"], status: 2, message: "is not a time"),
        Case(arguments: ["audit", "--format", "xml"], status: 2, message: "use table, json or csv"),
        Case(arguments: ["history", "--limit", "0"], status: 2, message: "--limit"),
        Case(arguments: ["list", "--limit", "-5"], status: 2, message: "--limit must be between 1 and 100000"),
        Case(arguments: ["freeze", "main", "--reason", "--force"], status: 2, message: "--reason got '--force', which is an option, not text"),
        Case(arguments: ["rollback", "develop", "--reason", "-q"], status: 2, message: "--reason got '-q', which is an option, not text"),
        Case(arguments: ["create", "3.0.0", "--notes", "--commit"], status: 2, message: "--notes got '--commit', which is an option"),
        Case(arguments: ["watch", "develop", "--for", "-5m"], status: 2, message: "--for takes a duration"),
        Case(arguments: ["audit", "--since", "-1d"], status: 2, message: "is not a time"),
        Case(arguments: ["audit", "--limit", "-1"], status: 2, message: "--limit must be between 1 and 100000"),
        Case(arguments: ["promote", "develop", "main", "--force"], status: 2, message: "--force needs --reason"),
        Case(arguments: ["promote", "main", "develop"], status: 3, message: "nothing is live on main"),
        Case(arguments: ["promote", "develop", "main", "--version", "7.7.7"], status: 2, message: "Unknown version '7.7.7'"),
        Case(arguments: ["deploy", "1.0.0", "develop", "--bogus"], status: 2, message: "Unknown option"),
        Case(arguments: ["frobnicate"], status: 2, message: "Unexpected argument"),
        Case(arguments: ["status", "--actor", "x y"], status: 2, message: "not a valid actor"),
        .status(
            environments:
                "  develop:\n    provider: command\n    command: {deploy: ./deploy.sh}\n    health: {url: http://127.0.0.1:1/, interval: soon}\n",
            says: "release.yml:6: environments.develop.health.interval: expected a duration"),
        .status(
            environments: "  develop:\n    provider: command\n    gates: {sok: 5m}\n    command: {deploy: ./deploy.sh}\n",
            says: "release.yml:5: environments.develop.gates.sok: unknown key 'sok'"),
        .status(environments: "  develop:\n    provider: command\n   command: [unclosed\n", says: "not valid YAML"),
        .status(
            environments: "  develop:\n    command: {timeout: 5m}\n    provider: command\n",
            says: "release.yml:4: environments.develop.command: missing key 'deploy'"),
        .status(
            environments: "  main:\n    provider: command\n    command: {deploy: x}\n    promote_from: staging\n",
            says: "names 'staging', which is not an environment"),
    ]

    /// Every case runs against one scenario (1.0.0 live on develop), which none may change.
    @Test func refusedWithAClearErrorAndNothingStored() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let defaultConfig = harness.defaultConfig()
            for testCase in Self.cases {
                try harness.writeConfig(testCase.config ?? defaultConfig)
                let before = try await harness.snapshot()
                let result = try await harness.run(testCase.arguments)
                #expect(result.status == testCase.status, "\(testCase): \(result)")
                #expect(result.stderr.contains(testCase.message), "\(testCase): \(result)")
                let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("release:") }
                #expect(lines.count == 1, "\(testCase): one line of error: \(result.stderr)")
                let json = try await harness.run(testCase.arguments + ["--json"])
                #expect(json.status == testCase.status, "\(testCase) --json")
                #expect(json.json?["error"]?["code"]?.intValue == Int64(testCase.status), "\(testCase): \(json)")
                #expect(json.json?["error"]?["message"]?.stringValue?.contains(testCase.message) == true, "\(testCase): \(json)")
                #expect(try await harness.snapshot() == before, "\(testCase) changed stored state")
            }
        }
    }

    @Test func anUnreachableDatabaseIsExitFiveAndThePasswordIsNeverShown() async throws {
        try await Harness.with { harness in
            let result = try await harness.run(["status", "--database-url", "postgresql://crm:hunter2secret@127.0.0.1:1/release"])
            #expect(result.status == 5, "\(result)")
            #expect(result.stderr.contains("Cannot reach the database"))
            #expect(!result.stderr.contains("?.") && !result.stderr.contains(".."), "one sentence, one full stop: \(result.stderr)")
            #expect(!result.output.contains("hunter2secret"))
            #expect(result.stderr.contains("crm:***@"))
        }
    }

    /// The connection is opened while the command line is still being parsed (EarlyConnection):
    /// the URL the command line names still wins, and what is wrong with the command or
    /// release.yml is still said before a database that cannot be reached.
    @Test func theCommandLinesDatabaseWinsAndUsageErrorsComeBeforeAnUnreachableDatabase() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let unreachable = ["RELEASE_DATABASE_URL": "postgresql://crm:hunter2secret@127.0.0.1:1/release"]
            for arguments in [
                ["status", "--database-url", harness.databaseURL], ["--database-url", harness.databaseURL, "status"],
                ["status", "--database-url=\(harness.databaseURL)"],
                ["status", "--database-url", "postgresql://127.0.0.1:1/x", "--database-url", harness.databaseURL],
            ] {
                let result = try await harness.run(arguments + ["--json"], environment: unreachable)
                #expect(result.status == 0, "\(arguments): \(result)")
                let develop = result.json?["environments"]?.arrayValue?.first { $0["name"]?.stringValue == "develop" }
                #expect(develop?["live"]?["version"]?.stringValue == "1.0.0", "\(arguments): \(result)")
            }
            for (arguments, message) in [
                (["status", "--bogus"], "Unknown option"), (["history", "--limit", "0"], "--limit"),
                (["status", "--config", "missing.yml"], "No configuration at missing.yml"),
                (["status", "--actor", "x y"], "not a valid actor"),
            ] {
                let result = try await harness.run(arguments, environment: unreachable)
                #expect(result.status == 2 && result.stderr.contains(message), "\(arguments): \(result)")
            }
            let help = try await harness.run(["status", "--help"], environment: unreachable)
            #expect(help.status == 0 && help.output.contains("USAGE: release status"), "\(help)")
            let migrate = try await harness.run(["migrate"], environment: unreachable)
            #expect(migrate.status == 5 && migrate.stderr.contains("Cannot reach the database"), "\(migrate)")
        }
    }

    /// Each option name has one meaning in each command's help: the tool's own version is
    /// `release --version` alone, so `--version` in promote's help is the release to promote.
    @Test func everyOptionNameHasOneMeaningInEachCommandsHelp() async throws {
        try await Harness.with { harness in
            let dump = try await harness.run("--experimental-dump-help")
            let commands = dump.json?["command"]?["subcommands"]?.arrayValue ?? []
            #expect(commands.count > 10, "\(dump)")
            for command in commands {
                let names = (command["arguments"]?.arrayValue ?? []).flatMap { argument in
                    (argument["names"]?.arrayValue ?? []).compactMap { name in name["name"]?.stringValue.map { "\(name["kind"] ?? .null) \($0)" } }
                }
                #expect(Set(names).count == names.count, "\(command["commandName"]?.stringValue ?? "?") lists an option twice: \(names.sorted())")
            }
            let help = try await harness.run("promote", "--help")
            let listed = help.output.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--version") }
            #expect(help.status == 0 && listed.count == 1 && listed[0].contains("must be the one live on FROM"), "\(help)")
            let version = try await harness.run("--version")
            #expect(version.status == 0 && version.stdout == ReleaseInfo.version + "\n", "\(version)")
            let missing = try await harness.run("promote", "develop", "main", "--version")
            #expect(missing.status == 2 && missing.stderr.contains("Missing value for '--version <version>'"), "\(missing)")
        }
    }

    @Test func aCommandRefusesWithAdviceBeforeTheSchemaIsMigrated() async throws {
        try await Harness.with(migrate: false) { harness in
            let result = try await harness.run("status")
            #expect(result.status == 2)
            #expect(result.stderr.contains("Run `release migrate` first"))
        }
    }

    @Test func textThatLooksLikeSQLIsStoredAsText() async throws {
        try await Harness.with { harness in
            let notes = "'); DELETE FROM releases; -- \u{1F680} \"quoted\""
            let create = try await harness.run("create", "3.0.0", "--notes", notes, "--json")
            #expect(create.status == 0, "\(create)")
            let list = try await harness.run("list", "--json")
            #expect(list.json?["releases"]?.arrayValue?.first?["notes"]?.stringValue == notes)
        }
    }

    /// Release notes in Markdown start with "- ", and a reason may too: text, not an option.
    @Test func textThatStartsWithADashIsText() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let notes = "- fixes the login\n- faster search"
            let create = try await harness.run("create", "3.0.0", "--notes", notes)
            #expect(create.status == 0, "\(create)")
            let list = try await harness.run("list", "--json")
            #expect(list.json?["releases"]?.arrayValue?.first?["notes"]?.stringValue == notes)
            let freeze = try await harness.run("freeze", "main", "--reason", "-- incident 42, see #ops")
            #expect(freeze.status == 0, "\(freeze)")
            let status = try await harness.run("status", "main", "--json")
            #expect(status.output.contains("-- incident 42, see #ops"), "\(status)")
        }
    }

    @Test func veryLongAndInvalidUTF8TextIsRefusedInOneLineAndStoresNothing() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let long = String(repeating: "x", count: 100_000)
            let commands: [[String]] = [
                ["create", "4.0.0", "--notes", long], ["create", "4.0.1", "--artifact", long], ["create", long],
                ["create", "4.0.2", "--commit", long], ["rollback", "develop", "--reason", long], ["freeze", "main", "--reason", long],
                ["reject", "1.0.0", "--reason", long], ["check", "1.0.0", "lint", "passed", "--url", "https://ci.example.com/" + long],
                ["check", "1.0.0", long, "passed"], ["approve", "main", "1.0.0", "--actor", long], ["approve", long, "1.0.0"],
                ["promote", "develop", "main", "--force", "--reason", long],
            ]
            for arguments in commands {
                let before = try await harness.snapshot()
                let result = try await harness.run(arguments)
                #expect(result.status == 2, "\(arguments.map { $0.prefix(20) }): \(result.status)")
                #expect(
                    result.stderr.count < 600 && result.stderr.split(separator: "\n").count == 1,
                    "one short line, not the input echoed: \(result.stderr.prefix(300))")
                #expect(try await harness.snapshot() == before)
            }
            // Bytes that are not UTF-8 reach the binary only through a shell.
            for (option, command) in [
                ("--notes", "create 4.1.0 --notes"), ("--reason", "freeze main --reason"),
                ("--reason", "rollback develop --reason"), ("--artifact", "create 4.1.1 --artifact"),
            ] {
                let before = try await harness.snapshot()
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", "exec \"$0\" \(command) \"$(printf 'ok\\377\\376bad')\"", ProjectPaths.binary]
                process.environment = harness.environment
                process.currentDirectoryURL = URL(fileURLWithPath: harness.directory)
                let errors = Pipe()
                process.standardError = errors
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                #expect(process.terminationReason == .exit && process.terminationStatus == 2, "\(command): \(text)")
                #expect(text.contains("\(option) contains control characters or invalid UTF-8"), "\(text)")
                #expect(try await harness.snapshot() == before)
            }
        }
    }
}
