import Postgres
import ReleaseCore
import ReleaseStore

/// Under enforced identity the database, not the client, says who acts and which gates count.
enum EnforcedIdentity {
    /// Who acts and which gates count, as the database says under enforced identity.
    struct Acting {
        /// The verified person, recorded as the actor.
        var actor: String
        /// The person a CI run acts for (the database refuses a claim it does not accept: exit 3).
        var onBehalfOf: String?
        /// release.yml with each environment's gates and source as stored by `release policy apply`.
        var configuration: ReleaseConfiguration
    }

    /// Who the connection is and, when identity is enforced, who acts: the schema check with
    /// `release_whoami()` in one request, then who acts and the stored gates in another.
    static func identify(
        claim: String?, configuration: ReleaseConfiguration, connection: PostgresConnection, output: Output
    ) async throws -> (Identity, Acting?) {
        let verified = try await connection.run { db in try Migrator().requireCurrent(identifying: db) }
        guard verified.enforced else { return (verified, nil) }
        let app = configuration.app
        let (acting, stored) = try await connection.run { db in try db.fetch(Reads.act(claimed: claim), Reads.storedPolicies(app: app)) }
        return (verified, try applying(acting, stored, to: configuration, output: output))
    }

    /// The same in one request, for a command the database has just told that identity is
    /// enforced (the check that travelled with its first statements refused with RA003, after
    /// finding the schema exactly the one this binary carries).
    static func identifyEnforced(
        claim: String?, configuration: ReleaseConfiguration, connection: PostgresConnection, output: Output
    ) async throws -> (Identity, Acting?) {
        let app = configuration.app
        let (verified, acting, stored) = try await connection.run { db in
            try db.fetch(Reads.whoami, Reads.act(claimed: claim), Reads.storedPolicies(app: app))
        }
        // Switched off in the moment between: the command acts as it would have without enforcement.
        guard verified.enforced else { return (verified, nil) }
        return (verified, try applying(acting, stored, to: configuration, output: output))
    }

    /// The configuration with the stored policies in place of release.yml's; a release.yml that
    /// differs gets a warning naming how.
    private static func applying(
        _ acting: (actor: String, onBehalfOf: String?), _ stored: [StoredPolicy], to configuration: ReleaseConfiguration,
        output: Output
    ) throws -> Acting {
        var configuration = configuration
        for index in configuration.environments.indices {
            let environment = configuration.environments[index]
            let policy = stored.first { $0.environment == environment.name }
            let differences = try StoredPolicy.differences(policy, from: environment)
            if !differences.isEmpty {
                output.warning(
                    "release.yml's policy for \(environment.name) differs from the stored one in \(differences.joined(separator: ", ")); "
                        + "identity is enforced, so the stored policy counts. An admin stores release.yml's with `release policy apply`.")
            }
            configuration.environments[index].gates = try policy?.gatePolicy() ?? GatePolicy()
            configuration.environments[index].promoteFrom = policy?.promoteFrom
        }
        return Acting(actor: acting.actor, onBehalfOf: acting.onBehalfOf, configuration: configuration)
    }
}
