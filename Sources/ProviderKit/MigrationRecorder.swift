import Foundation
import ReleaseCore

/// Records the schema migrations of a release: every file at its commit that release.yml's
/// `migrations.paths` match, each classified, then, with `lint:` configured, the linter's verdicts
/// laid over the classifier's.
///
/// The glob matcher and the classifier come in as closures (`matches`, `classify`), so that this
/// reads git and runs the linter without knowing how Django files are parsed.
///
/// `lint:` runs as `sh -c COMMAND` in a temporary worktree of the commit (`git worktree add
/// --detach`, always removed), with the environment given, `{base}` replaced by the commit
/// compared with: the previous release's commit when there is one, else the commit's first
/// parent, else (a root commit) the empty tree. Its output is django-migration-linter's:
/// `(app, 0002_name)... OK` (or `ERR`, `WARNING`, `IGNORE`), each followed by indented lines that
/// say why. A verdict on migration `app/0002_name`:
/// - `ERR`: incompatible, whatever the classifier said (the linter found what breaks older code).
/// - `OK`: compatible, unless the classifier found it irreversible: the linter reads the schema,
///   not whether data changes can be undone, so irreversible stays.
/// - `WARNING`: the classifier's class stays, and the warning joins its reason. The linter warns
///   mostly on data migrations (RunPython, RunSQL), which the classifier reads from the operations
///   as irreversible or not; making every warning incompatible would block rollbacks over data
///   migrations that keep the schema, which the contract lets pass.
/// - `IGNORE`: the classifier's class stays (the project told the linter not to look; that says
///   nothing about the migration).
/// Migrations the linter does not print (older than `{base}`) keep the classifier's class. A
/// linter that exits non-zero without a single verdict failed to run: `ReleaseError.usage`, with the
/// last lines of its output, redacted. django-migration-linter exits 1 when it finds errors, so
/// a non-zero exit with verdicts is a normal run.
public struct MigrationRecorder: Sendable {
    /// The classifier: a migration file's path and text to its record.
    public typealias Classify = @Sendable (_ path: String, _ text: String) -> MigrationRecord
    /// The matcher: whether a path (from the repository's root) is a migration.
    public typealias Matches = @Sendable (_ path: String) -> Bool

    /// One linter verdict.
    public struct LintVerdict: Sendable, Equatable {
        /// What the linter said.
        public enum Outcome: String, Sendable, Equatable {
            case ok = "OK"
            case error = "ERR"
            case warning = "WARNING"
            case ignored = "IGNORE"
        }

        /// The verdict.
        public var outcome: Outcome
        /// The indented lines under it: why.
        public var detail: [String]

        /// Creates a verdict.
        public init(outcome: Outcome, detail: [String] = []) {
            self.outcome = outcome
            self.detail = detail
        }
    }

    /// release.yml's `migrations:` block.
    public let configuration: MigrationsConfiguration
    /// The repository that holds release.yml.
    public let repository: GitRepository
    /// The matcher of `configuration.paths`.
    public let matches: Matches
    /// The classifier.
    public let classify: Classify
    /// How long `lint:` may run.
    public let lintTimeout: Duration

    /// Creates a recorder.
    public init(
        configuration: MigrationsConfiguration, repository: GitRepository, matches: @escaping Matches, classify: @escaping Classify,
        lintTimeout: Duration = .seconds(600)
    ) {
        self.configuration = configuration
        self.repository = repository
        self.matches = matches
        self.classify = classify
        self.lintTimeout = lintTimeout
    }

    /// The migrations at `commit`, sorted by id (then path). `base`: the previous release's commit,
    /// what `{base}` in `lint:` stands for (nil: the commit's parent). An unknown commit is
    /// `ReleaseError.usage`, before anything runs.
    public func record(at commit: String, base: String? = nil) async throws -> [MigrationRecord] {
        let full = try await repository.resolve(commit: commit)
        var baseCommit: String?
        if let base { baseCommit = try await repository.resolve(commit: base) }
        let files = try await repository.migrationFiles(at: full, matching: matches)
        var records = files.map { classify($0.path, $0.text) }
        if let lint = configuration.lint, !records.isEmpty {
            let compared: String
            if let baseCommit {
                compared = baseCommit
            } else if let parent = try await repository.parent(of: full) {
                compared = parent
            } else {
                compared = try await repository.emptyTree()
            }
            let verdicts = try await runLint(lint, at: full, base: compared)
            records = Self.apply(verdicts, to: records)
        }
        return records.sorted { ($0.id, $0.path) < ($1.id, $1.path) }
    }

    /// Runs `lint` in a temporary worktree of `commit`, and reads its verdicts.
    func runLint(_ lint: String, at commit: String, base: String) async throws -> [String: LintVerdict] {
        // `base` is a hex id that git gave, so it goes into the command as it is.
        let command = lint.replacingOccurrences(of: "{base}", with: base)
        let environment = repository.environment
        let timeout = lintTimeout
        return try await repository.withWorktree(at: commit) { directory in
            let child = ChildProcess(arguments: ["/bin/sh", "-c", command], environment: environment, workingDirectory: directory, timeout: timeout)
            let termination: ChildProcess.Termination
            let lines: [String]
            do {
                (termination, lines) = try await child.runCollectingLines()
            } catch {
                throw ReleaseError.usage(Secrets.redact("migrations.lint could not start (\(error)): fix lint: in release.yml"))
            }
            let verdicts = Self.parseLint(lines)
            if termination.timedOut {
                throw ReleaseError.usage(
                    Secrets.redact("migrations.lint ran longer than \(timeout) and was stopped: make it faster, or remove lint: from release.yml"))
            }
            if termination.status != 0, verdicts.isEmpty {
                let tail = termination.tail.suffix(3).joined(separator: " ").trimmingCharacters(in: .whitespaces)
                throw ReleaseError.usage(
                    Secrets.redact("migrations.lint exited with status \(termination.status) without a verdict (\(tail)): fix lint: in release.yml"))
            }
            return verdicts
        }
    }

    /// django-migration-linter's verdicts by migration id (`app/0002_name`), with the indented
    /// lines that follow each. Other lines (the summary, Django's own output) are skipped; colour
    /// escapes are removed.
    public static func parseLint(_ lines: [String]) -> [String: LintVerdict] {
        var verdicts: [String: LintVerdict] = [:]
        var current: String?
        for raw in lines {
            let line = withoutEscapes(raw)
            if let (id, outcome) = verdict(in: line) {
                verdicts[id] = LintVerdict(outcome: outcome)
                current = id
            } else if let id = current, line.first?.isWhitespace == true, !line.allSatisfy(\.isWhitespace) {
                verdicts[id]?.detail.append(line.trimmingCharacters(in: .whitespaces))
            } else {
                current = nil
            }
        }
        return verdicts
    }

    /// `(app, name)... OUTCOME` → (`app/name`, outcome).
    private static func verdict(in line: String) -> (String, LintVerdict.Outcome)? {
        let line = line.trimmingCharacters(in: .whitespaces)
        guard line.hasPrefix("("), let close = line.range(of: ")... ") else { return nil }
        let names = line[line.index(after: line.startIndex)..<close.lowerBound].split(separator: ",", maxSplits: 1)
        let word = line[close.upperBound...].prefix { !$0.isWhitespace }
        guard names.count == 2, let outcome = LintVerdict.Outcome(rawValue: String(word)) else { return nil }
        let app = names[0].trimmingCharacters(in: .whitespaces)
        let name = names[1].trimmingCharacters(in: .whitespaces)
        guard !app.isEmpty, !name.isEmpty else { return nil }
        return ("\(app)/\(name)", outcome)
    }

    /// The line without ANSI escape sequences (`ESC [ … letter`).
    private static func withoutEscapes(_ line: String) -> String {
        guard line.contains("\u{1B}") else { return line }
        var result = ""
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            guard character == "\u{1B}" else {
                result.append(character)
                continue
            }
            guard iterator.next() == "[" else { continue }
            while let next = iterator.next(), !(next.isLetter) {}
        }
        return result
    }

    /// The records with the linter's verdicts laid over them (the rules in the type's comment).
    public static func apply(_ verdicts: [String: LintVerdict], to records: [MigrationRecord]) -> [MigrationRecord] {
        records.map { record in
            guard let verdict = verdicts[record.id] else { return record }
            var record = record
            let why = verdict.detail.isEmpty ? "" : ": " + verdict.detail.joined(separator: "; ")
            switch verdict.outcome {
            case .error:
                record.migrationClass = .incompatible
                record.reason = "lint: ERR" + why
            case .ok:
                if record.migrationClass != .irreversible, record.migrationClass != .compatible {
                    record.reason = "lint: OK (the classifier said \(record.migrationClass.rawValue): \(record.reason))"
                    record.migrationClass = .compatible
                }
            case .warning:
                record.reason += (record.reason.isEmpty ? "" : "; ") + "lint: WARNING" + why
            case .ignored:
                break
            }
            return record
        }
    }
}
