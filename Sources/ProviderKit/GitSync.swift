import Foundation
import ReleaseCore

/// Moves a branch on a remote to the commit that went live, only ever forward: the branch then
/// says what the environment runs. Anything that is not a fast-forward is refused and left alone.
public struct GitSync: Sendable {
    /// How a sync ended.
    public enum Outcome: Sendable, Equatable {
        /// The branch moved from `from` (nil: it did not exist) to the commit.
        case moved(from: String?, to: String)
        /// The branch already pointed at the commit.
        case alreadyThere(String)
        /// Not done, and why (not a fast-forward, unknown commit, git failed).
        case refused(String)
    }

    /// The setting.
    public let configuration: GitSyncConfiguration
    /// The repository to run git in.
    public let repository: String
    /// The environment git runs with (credentials helpers, SSH agent…).
    public let environment: [String: String]
    /// How long any one git command may take.
    public let timeout: Duration

    /// Creates a sync for one environment's `git:` block.
    public init(configuration: GitSyncConfiguration, repository: String, environment: [String: String], timeout: Duration = .seconds(60)) {
        self.configuration = configuration
        self.repository = repository
        self.environment = environment
        self.timeout = timeout
    }

    /// Fast-forwards `branch` on `remote` to `commit`, refusing anything else.
    public func sync(commit: String) async -> Outcome {
        let branch = configuration.branch
        let remote = configuration.remote
        guard commit.count >= 4, commit.count <= 64, commit.allSatisfy(\.isHexDigit) else {
            return .refused("the release's commit '\(commit)' is not a git commit id")
        }
        do {
            let resolve = ["rev-parse", "--verify", "--quiet", "\(commit)^{commit}"]
            var full = try await git(resolve).ok
            if full == nil {
                // Not here yet (a shallow CI checkout, say): fetch it from the remote.
                _ = try await git(["fetch", "--quiet", "--no-tags", remote, commit])
                full = try await git(resolve).ok
            }
            guard let full else { return .refused("commit \(commit) is not in \(repository) nor on \(remote)") }
            return try await push(full, branch: branch, remote: remote)
        } catch {
            return .refused("git could not run: \(error)")
        }
    }

    private func push(_ commit: String, branch: String, remote: String) async throws -> Outcome {
        let listed = try await git(["ls-remote", "--heads", remote, "refs/heads/\(branch)"])
        guard let heads = listed.ok else {
            return .refused("git ls-remote \(remote) failed: \(listed.tail)")
        }
        let current = heads.split(separator: "\n").first { $0.hasSuffix("\trefs/heads/\(branch)") }.map { String($0.prefix { !$0.isWhitespace }) }
        if let current, current == commit { return .alreadyThere(commit) }
        if let current {
            if try await git(["cat-file", "-e", "\(current)^{commit}"]).ok == nil {
                _ = try await git(["fetch", "--quiet", "--no-tags", remote, "refs/heads/\(branch)"])
            }
            guard try await git(["merge-base", "--is-ancestor", current, commit]).status == 0 else {
                return .refused(
                    "\(remote)/\(branch) is at \(current.prefix(12)), which \(commit.prefix(12)) does not contain: not a "
                        + "fast-forward, so the branch was left alone")
            }
        }
        // The remote refuses a non-fast-forward too (no --force), should the branch move meanwhile.
        let pushed = try await git(["push", "--quiet", "--porcelain", remote, "\(commit):refs/heads/\(branch)"])
        guard pushed.status == 0 else {
            return .refused("git push to \(remote)/\(branch) was refused: \(pushed.tail)")
        }
        return .moved(from: current, to: commit)
    }

    private func git(_ arguments: [String]) async throws -> Git.Run {
        try await Git(directory: repository, environment: environment, timeout: timeout).run(arguments)
    }
}
