import ProviderKit
import ReleaseCore
import ReleaseStore

extension Engine {
    /// After a release went live on an environment with `git:`, fast-forwards that branch to the
    /// release's commit. Anything but a fast-forward is refused; either way it is audited, and it
    /// never fails the deployment (the release is live whatever the branch says).
    func syncBranch(_ started: StartedDeployment, _ git: GitSyncConfiguration) async {
        let target = "\(git.remote)/\(git.branch)"
        guard let commit = started.release.commit else {
            progress("Warning: \(started.release.version) has no commit, so \(target) was left alone (create releases with --commit).")
            return
        }
        let repository = git.repository ?? configuration.directory
        let outcome = await GitSync(configuration: git, repository: repository, environment: processEnvironment).sync(commit: commit)
        var details: [(String, JSONValue)] = [
            ("deployment", .int(started.id)), ("remote", .string(git.remote)),
            ("branch", .string(git.branch)), ("commit", .string(commit)),
        ]
        let action: String
        switch outcome {
        case let .moved(from, to):
            action = "git.synced"
            details.append(("from", .optional(from)))
            details[3] = ("commit", .string(to))
            progress("Fast-forwarded \(target) to \(to.prefix(12)) (\(started.release.version)).")
        case .alreadyThere:
            action = "git.synced"
            details.append(("unchanged", .bool(true)))
            progress("\(target) already points at \(commit.prefix(12)).")
        case let .refused(reason):
            action = "git.sync_refused"
            details.append(("reason", .string(reason)))
            progress("Warning: \(target) was not moved: \(reason). \(started.release.version) is live on \(started.environment.name) all the same.")
        }
        let engine = self
        let recorded = details
        do {
            try await database { db in
                try db.appendAudit(
                    app: started.appID, actor: engine.claimedActor, action: action, environment: started.environment.name,
                    version: started.release.version, details: .object(recorded))
            }
        } catch {
            progress("Warning: could not record the branch sync in the audit trail: \(error)")
        }
    }
}
