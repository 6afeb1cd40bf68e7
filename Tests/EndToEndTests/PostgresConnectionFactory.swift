import Postgres

enum PostgresConnectionFactory {
    static func connect(_ url: String) throws -> PostgresConnection {
        try PostgresConnection(url: url)
    }
}
