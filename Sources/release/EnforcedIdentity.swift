import Postgres
import ReleaseCore
import ReleaseStore

/// Under enforced identity the database, not the client, says who acts and which gates count.
enum EnforcedIdentity {
    /// The verified person, the person a CI run acts for (the database refuses a claim it does
    /// not accept: exit 3), and the configuration with each environment's gates and source as
    /// stored by `release policy apply`; a release.yml that differs gets a warning naming how.
    static func resolve(
        claim: String?, configuration: ReleaseConfiguration, connection: PostgresConnection, output: Output
    ) async throws -> (actor: String, onBehalfOf: String?, configuration: ReleaseConfiguration) {
        let app = configuration.app
        let (acting, stored) = try await connection.run { db in try db.fetch(Reads.act(claimed: claim), Reads.storedPolicies(app: app)) }
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
        return (acting.actor, acting.onBehalfOf, configuration)
    }
}
