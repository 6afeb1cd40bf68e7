import Foundation
import ReleaseCore

/// The git repository that holds release.yml, read for what a release contains: its commit, the
/// migration files at that commit, and the commits between two releases. Read-only, except for
/// the temporary worktrees `MigrationRecorder` checks a commit out into.
///
/// Every command runs as `git -C ROOT …` (`Git`): no shell, arguments passed as they are, the
/// environment given, each with a timeout. Commits are only ever given to git as hex ids checked
/// here, so nothing a user typed can become an option. Messages are one line, redacted.
public struct GitRepository: Sendable {
    /// A commit between two releases.
    public struct Commit: Sendable, Equatable, Hashable {
        /// Its full id.
        public var sha: String
        /// Its subject: the first paragraph of its message, on one line.
        public var subject: String

        /// Creates a commit.
        public init(sha: String, subject: String) {
            self.sha = sha
            self.subject = subject
        }
    }

    /// A file at a commit, read as UTF-8 (invalid bytes replaced).
    public struct File: Sendable, Equatable {
        /// Its path from the root of the repository.
        public var path: String
        /// Its text.
        public var text: String

        /// Creates a file.
        public init(path: String, text: String) {
            self.path = path
            self.text = text
        }
    }

    /// What lies between two commits, `from` (the release that runs) and `to` (the one a move
    /// goes to).
    public struct CommitRange: Sendable, Equatable {
        /// Which way a move from `from` to `to` goes in history.
        public enum Direction: String, Sendable, Equatable {
            /// The same commit: nothing between.
            case same
            /// `to` contains `from` (a promotion): `added` lists what it brings, `removed` is empty.
            case forward
            /// `from` contains `to` (a rollback): `removed` lists what it takes away, `added` is empty.
            case backward
            /// Neither contains the other (history rewritten, another branch): both lists count.
            case diverged
        }

        /// The full id of the commit moved from.
        public var from: String
        /// The full id of the commit moved to.
        public var to: String
        /// Reachable from `to`, not from `from` (`git log from..to`), newest first.
        public var added: [Commit]
        /// Reachable from `from`, not from `to` (`git log to..from`), newest first.
        public var removed: [Commit]

        /// Creates a range.
        public init(from: String, to: String, added: [Commit], removed: [Commit]) {
            self.from = from
            self.to = to
            self.added = added
            self.removed = removed
        }

        /// Which way it goes, from which of the two lists are empty.
        public var direction: Direction {
            switch (added.isEmpty, removed.isEmpty) {
            case (true, true): .same
            case (false, true): .forward
            case (true, false): .backward
            case (false, false): .diverged
            }
        }
    }

    /// The root of the working tree (`git rev-parse --show-toplevel`).
    public let root: String
    /// The environment git runs with, without the variables that would point it at another
    /// repository (`GIT_DIR`, `GIT_WORK_TREE`…).
    public let environment: [String: String]
    /// How long any one git command may take.
    public let timeout: Duration

    /// The variables that would make git read another repository than the one at `root`.
    static let repositoryVariables: Set<String> = [
        "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    ]

    /// A repository whose root is already known (no check that it is one: see `containing`).
    public init(root: String, environment: [String: String], timeout: Duration = .seconds(60)) {
        self.root = root
        self.environment = environment.filter { !Self.repositoryVariables.contains($0.key) }
        self.timeout = timeout
    }

    /// The repository that holds `path` (release.yml, or its directory), found with
    /// `git rev-parse --show-toplevel` from that directory. Not in a repository, or git missing:
    /// `ReleaseError.usage`.
    public static func containing(_ path: String, environment: [String: String], timeout: Duration = .seconds(60)) async throws -> GitRepository {
        var isDirectory: ObjCBool = false
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw ReleaseError.usage(Secrets.redact("\(absolute) does not exist: give the path of release.yml in a clone of its repository"))
        }
        let directory = isDirectory.boolValue ? absolute : URL(fileURLWithPath: absolute).deletingLastPathComponent().path
        let probe = GitRepository(root: directory, environment: environment, timeout: timeout)
        let run: Git.Run
        do {
            run = try await probe.git.run(["rev-parse", "--show-toplevel"])
        } catch {
            throw ReleaseError.usage(Secrets.redact("git could not run (\(error)): install git, or put it on PATH"))
        }
        guard let top = run.ok, !top.isEmpty else {
            let why = run.tail.isEmpty ? "" : " (\(run.tail))"
            throw ReleaseError.usage(
                Secrets.redact(
                    "\(directory) is not in a git repository\(why): run release in a clone of the repository that holds release.yml, "
                        + "with its history (migrations and commits are read from git)"))
        }
        return GitRepository(root: top, environment: environment, timeout: timeout)
    }

    var git: Git { Git(directory: root, environment: environment, timeout: timeout) }

    /// The full id of `commit` (a full or abbreviated hex id) when git knows it as a commit;
    /// otherwise `ReleaseError.usage`, nothing else done.
    public func resolve(commit: String) async throws -> String {
        guard commit.count >= 4, commit.count <= 64, commit.allSatisfy(\.isHexDigit) else {
            throw ReleaseError.usage(
                Secrets.redact("'\(commit)' is not a git commit id: give the commit's hex id, full or abbreviated (git rev-parse HEAD)"))
        }
        let run = try await checked(["rev-parse", "--verify", "--quiet", "\(commit)^{commit}"], allowFailure: true)
        guard let full = run.ok, !full.isEmpty, full.allSatisfy(\.isHexDigit) else {
            throw ReleaseError.usage(
                Secrets.redact(
                    "commit \(commit) is not in the git repository at \(root): fetch it (git fetch origin \(commit)), "
                        + "or give a commit that git log shows"))
        }
        return full.lowercased()
    }

    /// The first parent of `commit` (a full id), nil for a root commit.
    public func parent(of commit: String) async throws -> String? {
        let full = try await resolve(commit: commit)
        let run = try await checked(["rev-parse", "--verify", "--quiet", "\(full)^1^{commit}"], allowFailure: true)
        return run.ok.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The id of the empty tree in this repository's hash (SHA-1 or SHA-256): what a root commit is
    /// compared with.
    public func emptyTree() async throws -> String {
        // Standard input is /dev/null: the hash of an empty tree object.
        let run = try await checked(["hash-object", "-t", "tree", "--stdin"])
        return run.ok ?? ""
    }

    /// The files at `commit` whose path (from the root) `matching` accepts, with their text, in
    /// path order: the paths from one `git ls-tree -r -z`, the texts from one
    /// `git cat-file --batch` however many files there are. Only regular files (no symbolic links,
    /// no submodules). What later commits changed does not show.
    public func migrationFiles(at commit: String, matching: (String) -> Bool) async throws -> [File] {
        let full = try await resolve(commit: commit)
        let listed = try await captured(["ls-tree", "-r", "-z", "--full-tree", full])
        // Each entry: "<mode> SP <type> SP <object> TAB <path>" then NUL; the path is as it is, unquoted.
        var wanted: [(path: String, object: String)] = []
        for entry in listed.split(separator: 0, omittingEmptySubsequences: true) {
            guard let tab = entry.firstIndex(of: 9) else { continue }
            let fields = entry[entry.startIndex..<tab].split(separator: 32)
            guard fields.count == 3, fields[1].elementsEqual("blob".utf8), !fields[0].elementsEqual("120000".utf8) else { continue }
            let path = String(decoding: entry[(tab + 1)...], as: UTF8.self)
            if matching(path) { wanted.append((path, String(decoding: fields[2], as: UTF8.self))) }
        }
        guard !wanted.isEmpty else { return [] }
        let texts = try await contents(of: wanted.map(\.object))
        return zip(wanted, texts).map { File(path: $0.path, text: $1) }.sorted { $0.path < $1.path }
    }

    /// The contents of blobs `objects` (hex ids from ls-tree), in their order, from one
    /// `git cat-file --batch`.
    func contents(of objects: [String]) async throws -> [String] {
        let batch = try await captured(["cat-file", "--batch"], input: objects.joined(separator: "\n") + "\n")
        // Each answer: "<object> SP <type> SP <size> LF <contents> LF", or "<object> SP missing LF".
        var texts: [String] = []
        var index = batch.startIndex
        for object in objects {
            guard let newline = batch[index...].firstIndex(of: 10) else { throw corrupt("cat-file ended early") }
            let header = batch[index..<newline].split(separator: 32)
            let start = newline + 1
            // The contents, then the LF that ends them, must all be there.
            guard header.count == 3, let size = Int(String(decoding: header[2], as: UTF8.self)), size >= 0, start + size < batch.endIndex
            else {
                throw corrupt("cat-file could not read object \(object): \(String(decoding: batch[index..<newline], as: UTF8.self))")
            }
            texts.append(String(decoding: batch[start..<(start + size)], as: UTF8.self))
            index = start + size + 1  // the LF after the contents
        }
        return texts
    }

    /// The commits between `from` and `to` (full or abbreviated ids) both ways, and so which way a
    /// move between them goes. Subjects may hold any character: git separates them with NUL.
    public func commits(from: String, to: String) async throws -> CommitRange {
        let from = try await resolve(commit: from)
        let to = try await resolve(commit: to)
        guard from != to else { return CommitRange(from: from, to: to, added: [], removed: []) }
        async let added = log("\(from)..\(to)")
        async let removed = log("\(to)..\(from)")
        return try await CommitRange(from: from, to: to, added: added, removed: removed)
    }

    /// `git log RANGE`, newest first, as (id, subject).
    private func log(_ range: String) async throws -> [Commit] {
        let output = try await captured([
            "-c", "log.showSignature=false", "log", "-z", "--no-color", "--format=%H %s", range, "--",
        ])
        return output.split(separator: 0, omittingEmptySubsequences: true).compactMap { record in
            guard let space = record.firstIndex(of: 32) else { return nil }
            let sha = String(decoding: record[record.startIndex..<space], as: UTF8.self)
            return Commit(sha: sha, subject: String(decoding: record[(space + 1)...], as: UTF8.self))
        }
    }

    /// Checks `commit` out, detached, into a new temporary worktree, runs `body` there, and removes
    /// the worktree whatever happens.
    public func withWorktree<Result: Sendable>(at commit: String, _ body: (String) async throws -> Result) async throws -> Result {
        let full = try await resolve(commit: commit)
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path
        let path = base + "/release-worktree-" + UUID().uuidString
        do {
            // No hooks: a post-checkout hook is the project's, for its own clones, not for this.
            _ = try await checked(["-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--quiet", path, full])
        } catch {
            await removeWorktree(path)
            throw error
        }
        do {
            let result = try await body(path)
            await removeWorktree(path)
            return result
        } catch {
            await removeWorktree(path)
            throw error
        }
    }

    /// Removes a temporary worktree, its folder and git's note of it; never fails.
    func removeWorktree(_ path: String) async {
        _ = try? await git.run(["worktree", "remove", "--force", "--force", path])
        if FileManager.default.fileExists(atPath: path) { try? FileManager.default.removeItem(atPath: path) }
        _ = try? await git.run(["worktree", "prune"])
    }

    /// Runs git; a failure to start, a timeout, or (unless `allowFailure`) a non-zero exit is an
    /// error with a one-line, redacted message.
    private func checked(_ arguments: [String], allowFailure: Bool = false) async throws -> Git.Run {
        let run: Git.Run
        do {
            run = try await git.run(arguments)
        } catch {
            throw ReleaseError.usage(Secrets.redact("git could not run (\(error)): install git, or put it on PATH"))
        }
        if run.status == 124 { throw timedOut(arguments) }
        if run.status != 0, !allowFailure { throw failed(arguments, run.tail) }
        return run
    }

    /// Runs git and returns its standard output as bytes; any failure is an error.
    private func captured(_ arguments: [String], input: String? = nil) async throws -> [UInt8] {
        let run: Git.Captured
        do {
            run = try await git.capture(arguments, input: input)
        } catch {
            throw ReleaseError.usage(Secrets.redact("git could not run (\(error)): install git, or put it on PATH"))
        }
        if run.status == 124 { throw timedOut(arguments) }
        if run.status != 0 { throw failed(arguments, run.errors) }
        return run.output
    }

    private func timedOut(_ arguments: [String]) -> ReleaseError {
        ReleaseError.unavailable(
            Secrets.redact(
                "git \(arguments.first { !$0.hasPrefix("-") && !$0.contains("=") } ?? "") in \(root) took longer than \(timeout): try again"))
    }

    private func failed(_ arguments: [String], _ tail: String) -> ReleaseError {
        let command = arguments.first { !$0.hasPrefix("-") && !$0.contains("=") } ?? ""
        return ReleaseError.usage(Secrets.redact("git \(command) failed in \(root): \(tail)"))
    }

    private func corrupt(_ detail: String) -> ReleaseError {
        ReleaseError.unavailable(Secrets.redact("git's answer could not be read (\(detail)) in \(root): run git fsck there"))
    }
}
