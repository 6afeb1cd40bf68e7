/// Removes secrets (tokens, keys, passwords) from text before it is shown, logged or stored.
public struct Redactor: Sendable {
    private let secrets: [String]

    /// Creates a redactor for these secrets; values shorter than 4 characters are ignored (they
    /// would mangle ordinary words and cannot be real credentials).
    public init(secrets: [String?]) {
        self.secrets = secrets.compactMap { $0 }.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    /// The text with every secret replaced by `***`.
    public func callAsFunction(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return result
    }
}
