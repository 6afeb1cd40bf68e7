/// An error from libpq or the server. Its description never includes the connection string.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, broadly.
    public enum Kind: Sendable, Equatable {
        /// The server could not be reached, or the connection was lost.
        case connection
        /// The server refused a statement (see `sqlState`).
        case server
        /// A value could not be decoded from a result.
        case decoding
    }

    /// The broad kind of failure.
    public let kind: Kind
    /// The five-character SQLSTATE for server errors, such as 23505 for a unique violation.
    public let sqlState: String?
    /// The server's primary message, or libpq's message for connection errors.
    public let message: String
    /// The name of the violated constraint, where the server named one.
    public let constraint: String?

    /// Creates an error value.
    public init(kind: Kind, sqlState: String? = nil, message: String, constraint: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.constraint = constraint
    }

    /// True for a unique or exclusion violation.
    public var isUniqueViolation: Bool { sqlState == "23505" || sqlState == "23P01" }

    /// True when the connection failed or was lost (SQLSTATE class 08, 57P01 admin shutdown and friends).
    public var isConnectionFailure: Bool {
        if kind == .connection { return true }
        guard let state = sqlState else { return false }
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }

    public var description: String {
        if let sqlState { return "\(message) (SQLSTATE \(sqlState))" }
        return message
    }
}
