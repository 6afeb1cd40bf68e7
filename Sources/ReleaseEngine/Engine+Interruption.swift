import ReleaseCore
import ReleaseStore

extension Engine {
    /// Records that a signal interrupted this run while it drove `started`, and how the command it
    /// was running ended. The deployment stays in flight: the command was stopped, so the deploy is
    /// not known to have finished, and `release recover` runs it again (deploy commands are
    /// idempotent) rather than take it for done. Its lease ends now, so recover may take over at
    /// once. Nothing is recorded once the deployment has left `deploying` or another run holds it.
    func recordInterruption(of started: StartedDeployment, _ interruption: InterruptNotice.Interruption) async {
        let engine = self
        do {
            try await transaction { db in
                guard try db.holdsLease(deployment: started.id, owner: engine.leaseOwner),
                    try db.deployment(id: started.id)?.state == .deploying
                else { return }
                try db.annotate(deployment: started.id, detail: interruption.detail)
                try db.takeLease(deployment: started.id, owner: engine.leaseOwner, seconds: 0)
                var details: [(String, JSONValue)] = [("deployment", .int(started.id)), ("signal", .string(interruption.signalName))]
                if let command = interruption.command {
                    details += [
                        ("process_group", .int(Int64(command.group))), ("ended", .string(command.ending.rawValue)),
                        ("stopped_within_grace", .bool(command.ending.stoppedWithinGrace)),
                    ]
                }
                try db.appendAudit(
                    app: started.appID, actor: engine.claimedActor, action: "\(started.kind.rawValue).interrupted",
                    environment: started.environment.name, version: started.release.version, details: .object(details))
            }
        } catch {
            progress("Could not record the interruption on deployment \(started.id): \(error)")
        }
    }
}
