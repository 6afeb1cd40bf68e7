import Postgres
import ReleaseCore
import ReleaseStore

/// Under enforced identity the database, not the client, says who acts and which gates count.
enum EnforcedIdentity {
    /// The verified person, the person a CI run acts for (the database refuses a claim it does
    /// not accept: exit 3), and the configuration with each environment's gates as stored by
    /// `release policy apply`; a release.yml whose gates differ gets a warning naming them.
    static func resolve(
        claim: String?, configuration: ReleaseConfiguration, connection: PostgresConnection, output: Output
    ) async throws -> (actor: String, onBehalfOf: String?, configuration: ReleaseConfiguration) {
        let app = configuration.app
        let (acting, stored) = try await connection.run { db in try db.fetch(Reads.act(claimed: claim), Reads.storedPolicies(app: app)) }
        var configuration = configuration
        for index in configuration.environments.indices {
            let environment = configuration.environments[index]
            let policy =
                try stored.first { $0.environment == environment.name }
                .map { try GatePolicy(stored: $0.gates, environment: environment.name) } ?? GatePolicy()
            let differences = policy.differences(from: environment.gates)
            if !differences.isEmpty {
                output.warning(
                    "release.yml's gates for \(environment.name) differ from the stored policy in \(differences.joined(separator: ", ")); "
                        + "identity is enforced, so the stored policy counts. An admin stores release.yml's with `release policy apply`.")
            }
            configuration.environments[index].gates = policy
        }
        return (acting.actor, acting.onBehalfOf, configuration)
    }
}
