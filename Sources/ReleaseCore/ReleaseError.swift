/// An error a user sees: one sentence that says what to do, and the contract's exit code.
public struct ReleaseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The contract's exit codes.
    public enum Code: Int32, Sendable, Equatable {
        /// The deployment failed (the message says whether it was rolled back).
        case deploymentFailed = 1
        /// Usage or configuration error, including missing or rejected credentials.
        case usage = 2
        /// Refused by a gate: checks, soak, approvals, freeze, permission, quarantine.
        case refused = 3
        /// Another operation is in flight in the environment.
        case busy = 4
        /// The database or a provider could not be reached.
        case unavailable = 5
        /// The release is live but neither verified nor rolled back: its verification was
        /// inconclusive and `on_inconclusive` is hold; a person decides (`release accept`).
        case held = 6

        /// A short name for scripts, next to the numeric code in --json errors.
        public var name: String {
            switch self {
            case .deploymentFailed: "deployment_failed"
            case .usage: "usage"
            case .refused: "refused"
            case .busy: "busy"
            case .unavailable: "unavailable"
            case .held: "held"
            }
        }
    }

    /// The exit code.
    public var code: Code
    /// The message shown to the user.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// A usage or configuration error (exit 2).
    public static func usage(_ message: String) -> ReleaseError { ReleaseError(.usage, message) }
    /// A gate refused the operation (exit 3).
    public static func refused(_ message: String) -> ReleaseError { ReleaseError(.refused, message) }
    /// The environment is busy (exit 4).
    public static func busy(_ message: String) -> ReleaseError { ReleaseError(.busy, message) }
    /// The database or a provider is unreachable (exit 5).
    public static func unavailable(_ message: String) -> ReleaseError { ReleaseError(.unavailable, message) }
    /// Live, neither verified nor rolled back (exit 6).
    public static func held(_ message: String) -> ReleaseError { ReleaseError(.held, message) }
    /// The deployment failed (exit 1).
    public static func failed(_ message: String) -> ReleaseError { ReleaseError(.deploymentFailed, message) }
}
