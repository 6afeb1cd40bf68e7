import Foundation
import ProviderKit
import ReleaseCore
import Testing

/// A git repository made for one test, in a temporary directory, with its own HOME (no global
/// configuration) and a fixed identity.
private struct Scratch {
    let directory: TemporaryDirectory
    var root: String { directory.file("repo") }
    var environment: [String: String] {
        [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": directory.path, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        ]
    }
    var repository: GitRepository { GitRepository(root: root, environment: environment, timeout: .seconds(60)) }

    static func with<Result: Sendable>(_ body: (Scratch) async throws -> Result) async throws -> Result {
        try await TemporaryDirectory.with { directory in
            let scratch = Scratch(directory: directory)
            try FileManager.default.createDirectory(atPath: scratch.root, withIntermediateDirectories: true)
            try await scratch.git("init", "-q", "-b", "main")
            return try await body(scratch)
        }
    }

    /// Runs git in the repository (no shell); its output, trimmed; a failure fails the test.
    @discardableResult
    func git(_ arguments: String...) async throws -> String {
        let lines = Collected<String>()
        let child = ChildProcess(arguments: ["git", "-C", root] + arguments, environment: environment, timeout: .seconds(60))
        let termination = try await child.run(onLine: { lines.append($0) })
        guard termination.status == 0 else {
            throw ReleaseError.failed("git \(arguments.joined(separator: " ")): \(lines.values.joined(separator: "\n"))")
        }
        return lines.values.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes files (path from the root → text), commits them all with `message`; the commit's id.
    @discardableResult
    func commit(_ message: String, _ files: [String: String] = [:]) async throws -> String {
        for (path, text) in files {
            let target = root + "/" + path
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: target).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try text.write(toFile: target, atomically: true, encoding: .utf8)
        }
        try await git("add", "-A")
        try await git("commit", "-q", "--allow-empty", "-m", message)
        return try await git("rev-parse", "HEAD")
    }
}

private func isMigration(_ path: String) -> Bool {
    path.hasPrefix("crm/migrations/") && path.hasSuffix(".py") && path.split(separator: "/").last?.first?.isNumber == true
}

/// A stand-in classifier: `crm/NAME`, compatible, unless the text says DROP (incompatible) or
/// RunPython (irreversible).
private func stubClassify(_ path: String, _ text: String) -> MigrationRecord {
    let name = String(path.split(separator: "/").last!.dropLast(3))
    let migrationClass: MigrationClass = text.contains("DROP") ? .incompatible : text.contains("RunPython") ? .irreversible : .compatible
    return MigrationRecord(id: "crm/\(name)", path: path, migrationClass: migrationClass, reversible: migrationClass != .irreversible, reason: "stub")
}

private func usageError(_ body: () async throws -> Void) async -> ReleaseError? {
    do {
        try await body()
        return nil
    } catch let error as ReleaseError {
        return error
    } catch {
        Issue.record("not a ReleaseError: \(error)")
        return nil
    }
}

@Suite("GitRepository and MigrationRecorder")
struct GitRepositoryTests {
    @Test("a commit git does not know, or text that is not a commit id, is a usage error that says what to do")
    func unknownCommit() async throws {
        try await Scratch.with { scratch in
            let head = try await scratch.commit("first", ["README": "hi\n"])
            #expect(try await scratch.repository.resolve(commit: String(head.prefix(8))) == head)
            for bad in ["deadbeefdeadbeef", "--output=/tmp/x", "HEAD; rm -rf /", "abc"] {
                let error = await usageError { _ = try await scratch.repository.resolve(commit: bad) }
                #expect(error?.code == .usage, "\(bad)")
                #expect(error?.message.contains("\n") == false)
            }
            let error = await usageError { _ = try await scratch.repository.migrationFiles(at: "0123456789abcdef", matching: isMigration) }
            #expect(error?.code == .usage)
            #expect(error?.message.contains("git fetch") == true)
        }
    }

    @Test("a directory outside any git repository is a usage error; release.yml's repository is found from its directory")
    func containing() async throws {
        try await Scratch.with { scratch in
            let outside = scratch.directory.file("elsewhere")
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            let error = await usageError { _ = try await GitRepository.containing(outside, environment: scratch.environment) }
            #expect(error?.code == .usage)
            #expect(error?.message.contains("not in a git repository") == true)
            let missing = await usageError { _ = try await GitRepository.containing(outside + "/nope/release.yml", environment: scratch.environment) }
            #expect(missing?.code == .usage)

            try await scratch.commit("config", ["deploy/release.yml": "project: crm\n"])
            var environment = scratch.environment
            environment["GIT_DIR"] = outside  // ignored: the repository is the one around release.yml
            let found = try await GitRepository.containing(scratch.root + "/deploy/release.yml", environment: environment)
            #expect(found.root == scratch.root)
            #expect(found.environment["GIT_DIR"] == nil)
        }
    }

    @Test("the migration files at a commit are those of that commit, not what later commits changed")
    func filesAtCommit() async throws {
        try await Scratch.with { scratch in
            let first = try await scratch.commit(
                "add crm migrations",
                [
                    "crm/migrations/0001_initial.py": "CreateModel contact\n",
                    "crm/migrations/0002_add_phone.py": "AddField phone\n",
                    "crm/migrations/__init__.py": "",
                    "crm/models.py": "class Contact: pass\n",
                    "release.yml": "project: crm\n",
                ])
            try await scratch.commit(
                "later",
                [
                    "crm/migrations/0001_initial.py": "CHANGED LATER\n",
                    "crm/migrations/0003_drop_email.py": "DROP email\n",
                    "crm/migrations/0004_ünï côde\ttab.py": "unicode name\n",
                    "release.yml": "project: crm\nmigrations: {}\n",
                ])
            try await scratch.commit("uncommitted edits do not count either")
            try "WORKING TREE\n".write(toFile: scratch.root + "/crm/migrations/0002_add_phone.py", atomically: true, encoding: .utf8)

            let atFirst = try await scratch.repository.migrationFiles(at: first, matching: isMigration)
            #expect(
                atFirst == [
                    GitRepository.File(path: "crm/migrations/0001_initial.py", text: "CreateModel contact\n"),
                    GitRepository.File(path: "crm/migrations/0002_add_phone.py", text: "AddField phone\n"),
                ])
            let head = try await scratch.git("rev-parse", "HEAD")
            let atHead = try await scratch.repository.migrationFiles(at: head, matching: isMigration)
            #expect(atHead.map(\.path).contains("crm/migrations/0004_ünï côde\ttab.py"))
            #expect(atHead.first?.text == "CHANGED LATER\n")
            #expect(atHead.count == 4)
            #expect(try await scratch.repository.migrationFiles(at: head, matching: { _ in false }).isEmpty)
        }
    }

    @Test("hundreds of files are read by one git cat-file process, byte for byte")
    func manyFilesOneProcess() async throws {
        try await Scratch.with { scratch in
            var files: [String: String] = [:]
            for number in 1...300 {
                let name = String(format: "crm/migrations/%04d_step.py", number)
                // Texts with newlines, no final newline, NUL-free binary-ish bytes, and an empty one.
                files[name] = number == 7 ? "" : "# \(number)\nop = \"\(String(repeating: "x", count: number))\"\n\n   é ✓"
            }
            let commit = try await scratch.commit("many", files)
            // git logs each command it runs to GIT_TRACE's file.
            let log = scratch.directory.file("git.log")
            var environment = scratch.environment
            environment["GIT_TRACE"] = log
            let repository = GitRepository(root: scratch.root, environment: environment)

            let read = try await repository.migrationFiles(at: commit, matching: isMigration)
            #expect(read.count == 300)
            #expect(Dictionary(uniqueKeysWithValues: read.map { ($0.path, $0.text) }) == files)
            let commands = (scratch.directory.read("git.log") ?? "").split(separator: "\n").filter { $0.contains("trace: built-in: git ") }
            #expect(commands.filter { $0.contains(" cat-file ") }.count == 1, "\(commands)")
            #expect(commands.filter { $0.contains(" ls-tree ") }.count == 1, "\(commands)")
            #expect(commands.count == 3, "rev-parse, ls-tree, cat-file: \(commands)")
        }
    }

    @Test("the commits between two releases, both ways, with subjects holding any character")
    func commitsBetween() async throws {
        try await Scratch.with { scratch in
            let base = try await scratch.commit("base", ["crm/migrations/0001_initial.py": "x\n"])
            let subjects = [
                "Fix \"quoted\" and 'single' and `back` $(not run) ; | & *",
                "ünïcode ✓ 🚀 — dash",
                "two lines\nof one paragraph",
                "subject\n\nand a body that is not the subject",
                "%H %s %x00 format-looking",
            ]
            var shas: [String] = []
            for (index, subject) in subjects.enumerated() {
                shas.append(try await scratch.commit(subject, ["crm/notes/\(index).txt": "\(index)\n"]))
            }
            let expected = [
                GitRepository.Commit(sha: shas[4], subject: "%H %s %x00 format-looking"),
                GitRepository.Commit(sha: shas[3], subject: "subject"),
                GitRepository.Commit(sha: shas[2], subject: "two lines of one paragraph"),
                GitRepository.Commit(sha: shas[1], subject: "ünïcode ✓ 🚀 — dash"),
                GitRepository.Commit(sha: shas[0], subject: subjects[0]),
            ]
            let forward = try await scratch.repository.commits(from: String(base.prefix(10)), to: shas[4])
            #expect(forward.direction == .forward)
            #expect(forward.from == base)
            #expect(forward.added == expected)
            #expect(forward.removed.isEmpty)

            let rollback = try await scratch.repository.commits(from: shas[4], to: base)
            #expect(rollback.direction == .backward)
            #expect(rollback.removed == expected)
            #expect(rollback.added.isEmpty)

            #expect(try await scratch.repository.commits(from: base, to: base).direction == .same)

            try await scratch.git("checkout", "-q", "-b", "other", shas[1])
            let side = try await scratch.commit("on another branch")
            let diverged = try await scratch.repository.commits(from: shas[4], to: side)
            #expect(diverged.direction == .diverged)
            #expect(diverged.added.map(\.sha) == [side])
            #expect(diverged.removed.map(\.sha) == [shas[4], shas[3], shas[2]])

            let error = await usageError { _ = try await scratch.repository.commits(from: base, to: "feedfacefeedface") }
            #expect(error?.code == .usage)
        }
    }

    @Test("the recorder classifies the files at the commit, sorted by id")
    func recorderWithoutLint() async throws {
        try await Scratch.with { scratch in
            let commit = try await scratch.commit(
                "migrations",
                [
                    "crm/migrations/0002_drop.py": "DROP email\n",
                    "crm/migrations/0001_initial.py": "CreateModel\n",
                    "crm/migrations/0003_data.py": "RunPython(forward)\n",
                ])
            let recorder = MigrationRecorder(
                configuration: MigrationsConfiguration(framework: .django, paths: ["*/migrations/*.py"]),
                repository: scratch.repository, matches: isMigration, classify: stubClassify)
            let records = try await recorder.record(at: commit)
            #expect(records.map(\.id) == ["crm/0001_initial", "crm/0002_drop", "crm/0003_data"])
            #expect(records.map(\.migrationClass) == [.compatible, .incompatible, .irreversible])
            let error = await usageError { _ = try await recorder.record(at: "abcdef0123") }
            #expect(error?.code == .usage)
        }
    }

    @Test("lint runs in a temporary worktree of the commit, {base} is the parent or the release given, its verdicts override, the worktree goes")
    func recorderWithLint() async throws {
        try await Scratch.with { scratch in
            let first = try await scratch.commit("first", ["crm/migrations/0001_initial.py": "CreateModel\n"])
            let commit = try await scratch.commit(
                "second",
                [
                    "crm/migrations/0002_drop.py": "DROP email\n",
                    "crm/migrations/0003_add.py": "AddField\n",
                    "crm/migrations/0004_data.py": "RunPython(forward)\n",
                    "crm/migrations/0005_warn.py": "AlterField\n",
                ])
            try await scratch.commit("after the release", ["crm/migrations/0006_later.py": "DROP later\n"])
            let out = scratch.directory.file("lint.out")
            let lint = try scratch.directory.write(
                "lint.sh",
                """
                #!/bin/sh
                echo "base=$1" > '\(out)'
                echo "pwd=$(pwd)" >> '\(out)'
                ls crm/migrations >> '\(out)'
                printf 'Operations to perform:\\n'
                printf '(crm, 0001_initial)... \\033[32mOK\\033[0m\\n'
                printf '(crm, 0002_drop)... OK\\n'
                printf '(crm, 0003_add)... ERR\\n        NOT NULL constraint on columns\\n        (and more)\\n'
                printf '(crm, 0004_data)... OK\\n'
                printf '(crm, 0005_warn)... WARNING\\n        ALTERING columns (Could be backward compatible)\\n'
                printf '(other, 0001_initial)... ERR\\n'
                printf '\\n*** Summary ***\\nValid migrations: 3/6\\n'
                exit 1
                """)
            let configuration = MigrationsConfiguration(framework: .django, paths: ["*/migrations/*.py"], lint: "'\(lint)' {base}")
            let recorder = MigrationRecorder(
                configuration: configuration, repository: scratch.repository, matches: isMigration, classify: stubClassify)

            let records = try await recorder.record(at: commit)
            let byID = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
            #expect(records.map(\.id) == ["crm/0001_initial", "crm/0002_drop", "crm/0003_add", "crm/0004_data", "crm/0005_warn"])
            #expect(byID["crm/0001_initial"]?.migrationClass == .compatible)
            #expect(byID["crm/0002_drop"]?.migrationClass == .compatible)
            #expect(byID["crm/0002_drop"]?.reason.contains("the classifier said incompatible") == true)
            #expect(byID["crm/0003_add"]?.migrationClass == .incompatible)
            #expect(byID["crm/0003_add"]?.reason == "lint: ERR: NOT NULL constraint on columns; (and more)")
            #expect(byID["crm/0004_data"]?.migrationClass == .irreversible)
            #expect(byID["crm/0005_warn"]?.migrationClass == .compatible)
            #expect(byID["crm/0005_warn"]?.reason.contains("lint: WARNING: ALTERING columns") == true)

            let seen = scratch.directory.read("lint.out") ?? ""
            #expect(seen.contains("base=\(first)\n"))
            #expect(!seen.contains("0006_later"), "the worktree holds the commit, not HEAD")
            let worktree = try #require(seen.split(separator: "\n").first { $0.hasPrefix("pwd=") }).dropFirst(4)
            #expect(!FileManager.default.fileExists(atPath: String(worktree)))
            #expect(try await scratch.git("worktree", "list", "--porcelain").components(separatedBy: "worktree ").count == 2)

            _ = try await recorder.record(at: commit, base: String(commit.prefix(12)))
            #expect((scratch.directory.read("lint.out") ?? "").contains("base=\(commit)\n"))
            let root = try await recorder.record(at: first)
            #expect(root.map(\.id) == ["crm/0001_initial"])
            let emptyTree = try await scratch.repository.emptyTree()
            #expect((scratch.directory.read("lint.out") ?? "").contains("base=\(emptyTree)\n"))
        }
    }

    @Test("a lint that fails without a verdict is a usage error, and its worktree is removed all the same")
    func lintFailure() async throws {
        try await Scratch.with { scratch in
            let commit = try await scratch.commit("one", ["crm/migrations/0001_initial.py": "CreateModel\n"])
            let configuration = MigrationsConfiguration(
                framework: .django, paths: ["*/migrations/*.py"],
                lint: "pwd > '\(scratch.directory.file("where"))'; echo 'No module named django' >&2; exit 1")
            let recorder = MigrationRecorder(
                configuration: configuration, repository: scratch.repository, matches: isMigration, classify: stubClassify)
            let error = await usageError { _ = try await recorder.record(at: commit) }
            #expect(error?.code == .usage)
            #expect(error?.message.contains("No module named django") == true)
            let worktree = (scratch.directory.read("where") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!worktree.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: worktree))
            #expect(try await scratch.git("worktree", "list", "--porcelain").components(separatedBy: "worktree ").count == 2)
        }
    }

    @Test("django-migration-linter's output is read per migration, with the lines that say why")
    func parseLint() {
        let output = """
            (app_add_not_null_column, 0001_create_table)... OK
            (app_add_not_null_column, 0002_add_new_not_null_field)... ERR
                    NOT NULL constraint on columns
            (app_drop_table, 0002_delete_a)... ERR
                    DROPPING table
            (app_ignore_migration, 0002_ignore_migration)... IGNORE
            (app_data, 0003_backfill)... WARNING
                    RunPython data migration is not reversible

            *** Summary ***
            Valid migrations: 1/5
            """
        let verdicts = MigrationRecorder.parseLint(output.components(separatedBy: "\n"))
        typealias Verdict = MigrationRecorder.LintVerdict
        #expect(
            verdicts == [
                "app_add_not_null_column/0001_create_table": Verdict(outcome: .ok),
                "app_add_not_null_column/0002_add_new_not_null_field": Verdict(outcome: .error, detail: ["NOT NULL constraint on columns"]),
                "app_drop_table/0002_delete_a": Verdict(outcome: .error, detail: ["DROPPING table"]),
                "app_ignore_migration/0002_ignore_migration": Verdict(outcome: .ignored),
                "app_data/0003_backfill": Verdict(outcome: .warning, detail: ["RunPython data migration is not reversible"]),
            ])
    }
}
