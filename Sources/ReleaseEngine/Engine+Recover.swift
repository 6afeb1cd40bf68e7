import Postgres
import ReleaseCore
import ReleaseStore

extension Engine {
    /// What `release recover` did with one in-flight deployment.
    public struct RecoveryReport: Sendable {
        /// The deployment.
        public var deploymentID: Int64
        /// Its environment.
        public var environment: String
        /// Its version.
        public var version: String
        /// What happened: one sentence.
        public var message: String
        /// How it ended.
        public var outcome: Outcome

        /// How a recovery ended.
        public enum Outcome: Sendable, Equatable {
            /// Finished (live), or cancelled before it reached the provider.
            case settled
            /// Another run still holds a live lease; left alone.
            case stillRunning
            /// Finished, but badly: the error it ended with.
            case failed(ReleaseError.Code)
        }

        /// Whether it ended well.
        public var settled: Bool { outcome == .settled }
    }

    /// Settles deployments that a crashed or killed run left in flight: those whose lease expired
    /// or whose owner process is gone. Each is finished by asking its provider where it stands.
    public func recover(environment name: String?) async throws -> [RecoveryReport] {
        if let name { _ = try configuration.environment(named: name) }
        let app = self.app
        let inFlight: [DeploymentRecord] = try await database { db in
            guard let appID = try db.appID(named: app) else { return [] }
            let environmentID = try name.flatMap { try db.environmentID(app: appID, named: $0) }
            if name != nil, environmentID == nil { return [] }
            return try db.inFlightDeployments(app: appID, environment: environmentID)
        }
        var reports: [RecoveryReport] = []
        for deployment in inFlight {
            reports.append(try await recover(deployment))
        }
        return reports
    }

    private func recover(_ deployment: DeploymentRecord) async throws -> RecoveryReport {
        let engine = self
        // Credentials first: a missing token must not leave a deployment taken over and stuck.
        if let environment = configuration.environments.first(where: { $0.name == deployment.environment }),
            deployment.state == .deploying || deployment.state == .verifying
        {
            try provider(for: environment).preflight()
        }
        let dead = LeaseOwner.isDead(deployment.leaseOwner)
        let tookOver = try await database { db in
            try db.takeOverLease(
                deployment: deployment.id, from: deployment.leaseOwner, owner: engine.leaseOwner,
                seconds: engine.leaseSeconds, ownerIsDead: dead)
        }
        guard tookOver else {
            let until = deployment.leaseExpiresAt.map { " until \($0)" } ?? ""
            return RecoveryReport(
                deploymentID: deployment.id, environment: deployment.environment, version: deployment.version,
                message: "still running under \(deployment.leaseOwner ?? "another run") (lease held\(until)); left alone",
                outcome: .stillRunning)
        }
        guard let environment = configuration.environments.first(where: { $0.name == deployment.environment }) else {
            throw ReleaseError.usage(
                "Deployment \(deployment.id) is in flight on '\(deployment.environment)', which release.yml no longer "
                    + "defines. Restore that environment to recover it.")
        }
        // An interrupted run says why it left the deployment (its command stopped, so it is not known to have finished).
        let why = deployment.detail.map { " (\($0))" } ?? ""
        progress(
            "Recovering deployment \(deployment.id): \(deployment.kind.rawValue) of \(deployment.version) to \(deployment.environment), "
                + "left \(deployment.state.rawValue)\(why).")
        let app = self.app
        let started: StartedDeployment = try await transaction { db in
            guard let appID = try db.appID(named: app),
                let environmentID = try db.environmentID(app: appID, named: deployment.environment),
                let release = try db.release(id: deployment.releaseID)
            else { throw ReleaseError.usage("Deployment \(deployment.id) refers to records that no longer exist.") }
            try db.appendAudit(
                app: appID, actor: engine.claimedActor, action: "recover.took_over", environment: deployment.environment,
                version: deployment.version,
                details: .object([
                    ("deployment", .int(deployment.id)), ("state", .string(deployment.state.rawValue)),
                    ("previous_owner", .optional(deployment.leaseOwner)),
                ]))
            let current = try db.currentLive(environment: environmentID)
            var previous: ReleaseRecord?
            if let current, current.deploymentID != deployment.id {
                previous = try db.release(id: current.releaseID)
            }
            var sourceReference: JSONValue?
            var sourceEnvironment: EnvironmentConfiguration?
            if let sourceID = deployment.sourceDeploymentID, let source = try db.deployment(id: sourceID) {
                sourceReference = source.liveReference
                sourceEnvironment = engine.configuration.environments.first(where: { $0.name == source.environment })
            }
            var targetReference: JSONValue?
            if deployment.kind == .rollback {
                targetReference = try db.lastVerified(environment: environmentID, release: release.id)?.liveReference
            }
            return StartedDeployment(
                id: deployment.id, appID: appID, environmentID: environmentID, kind: deployment.kind, environment: environment,
                release: release, previous: previous, sourceEnvironment: sourceEnvironment, sourceReference: sourceReference,
                targetReference: targetReference, rollbackOf: deployment.rollbackOf)
        }
        do {
            switch deployment.state {
            case .pending, .gating:
                try await transaction { db in
                    try db.transition(deployment: deployment.id, to: .cancelled, detail: "cancelled by release recover: the run died while gating")
                    try db.appendAudit(
                        app: started.appID, actor: engine.claimedActor, action: "\(deployment.kind.rawValue).cancelled",
                        environment: deployment.environment, version: deployment.version,
                        details: .object([("deployment", .int(deployment.id))]))
                }
                return RecoveryReport(
                    deploymentID: deployment.id, environment: deployment.environment, version: deployment.version,
                    message: "cancelled: it died before reaching the provider", outcome: .settled)
            case .deploying:
                let provider = try provider(for: environment)
                let report = try await execute(started, provider: provider, gates: [], resume: deployment.operation)
                return RecoveryReport(
                    deploymentID: deployment.id, environment: deployment.environment, version: deployment.version,
                    message: report.message, outcome: .settled)
            case .verifying:
                let provider = try provider(for: environment)
                let since = try await database { db in try db.deployment(id: deployment.id)?.cutoverAt }
                let report = try await verify(started, provider: provider, gates: [], since: since, outcome: deployment.liveReference)
                return RecoveryReport(
                    deploymentID: deployment.id, environment: deployment.environment, version: deployment.version,
                    message: report.message, outcome: .settled)
            default:
                return RecoveryReport(
                    deploymentID: deployment.id, environment: deployment.environment, version: deployment.version,
                    message: "already \(deployment.state.rawValue)", outcome: .settled)
            }
        } catch let error as ReleaseError {
            return RecoveryReport(
                deploymentID: deployment.id, environment: deployment.environment, version: deployment.version,
                message: error.message, outcome: .failed(error.code))
        }
    }
}
