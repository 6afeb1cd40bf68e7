import Postgres

enum PostgresConnectionFactory {
    static func connect(_ url: String) async throws -> PostgresConnection {
        try await PostgresConnection.connect(url: url)
    }
}
