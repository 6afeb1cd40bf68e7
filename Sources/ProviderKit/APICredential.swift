import ReleaseCore

/// A platform API's token, read from the process environment: the first of its variables that is
/// set. Every one of them is registered with `Secrets` as it is read, set or not, so that no token
/// reaches any output, even one the provider does not use.
public struct APICredential: Sendable {
    /// The variables that may hold the token, in order of preference.
    public let variables: [String]
    /// The variable the token was read from; nil when none is set.
    public let variable: String?
    /// The token; nil when none is set.
    public let token: String?
    /// What to export, ending the error a missing token gives.
    private let advice: String

    /// Reads the token. `advice` finishes the error a missing token gives: "Export <advice>."
    public init(_ variables: String..., in environment: [String: String], advice: String) {
        self.variables = variables
        self.advice = advice
        let read = variables.map { ($0, environment.secret($0)) }
        let found = read.first { $0.1 != nil }
        variable = found?.0
        token = found?.1
    }

    /// The variable messages name: the one in use, else the preferred one.
    public var name: String { variable ?? variables[0] }

    /// The Authorization header that sends the token as a Bearer token.
    public var bearer: (String, String) { ("Authorization", "Bearer \(token ?? "")") }

    /// A usage error before any work starts when no variable holds a token: "HEROKU_API_KEY is not
    /// set. Export …", or "Neither RAILWAY_API_TOKEN nor RAILWAY_TOKEN is set. Export …".
    public func preflight() throws {
        guard token == nil else { return }
        let unset =
            variables.count == 1
            ? "\(variables[0]) is not set"
            : "Neither \(variables.dropLast().joined(separator: ", ")) nor \(variables[variables.count - 1]) is set"
        throw ReleaseError.usage("\(unset). Export \(advice).")
    }
}
