import Foundation

/// Every secret value this process has read, and the one redactor that takes them out of text on
/// its way out: every line printed, every text stored, every notification and log line.
///
/// Secrets are registered where they are read: `[String: String].secret(_:)` for credential
/// variables, `register(url:)` for webhook URLs, `register(_:)` for the rest (the database
/// password, AWS keys from ~/.aws/credentials). The process environment's credential-like
/// variables (`isSecretName`) are registered before anything is redacted, so the token of a
/// provider added later, or a variable a deploy script echoes, is hidden too.
public enum Secrets {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var known = fromEnvironment(ProcessEnvironment.current)

    /// Registers a secret value (ignored when nil or shorter than `Redactor.minimumLength`).
    public static func register(_ value: String?) {
        guard let value else { return }
        lock.lock()
        known.add(value)
        lock.unlock()
    }

    /// Registers a URL that is a secret as a whole and in its parts: its path and query (a Slack
    /// webhook's path is its key) and any password.
    public static func register(url: String) {
        for part in parts(ofSecretURL: url) { register(part) }
    }

    /// The text with every registered secret replaced by `***`.
    public static func redact(_ text: String) -> String {
        current(text)
    }

    /// The JSON value with every registered secret replaced by `***` in its strings.
    public static func redact(_ value: JSONValue) -> JSONValue {
        current(value)
    }

    /// The redactor as it stands (registration goes on while other tasks redact).
    private static var current: Redactor {
        lock.lock()
        defer { lock.unlock() }
        return known
    }

    /// Whether a variable's name says it holds a credential: `…TOKEN…`, `…SECRET…`,
    /// `…PASSWORD…`, `…PASSWD…`, `…PASSPHRASE…`, `…WEBHOOK…`, or a name ending in `_KEY`
    /// (`HEROKU_API_KEY`, `DD_APP_KEY`; not `AWS_ACCESS_KEY_ID`, which names a key).
    public static func isSecretName(_ name: String) -> Bool {
        let name = name.uppercased()
        return ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "WEBHOOK"].contains { name.contains($0) }
            || name.hasSuffix("_KEY") || name == "KEY"
    }

    /// The secrets among `environment`'s variables: the value of each one `isSecretName` picks,
    /// and when it is a URL, its parts.
    static func fromEnvironment(_ environment: [String: String]) -> Redactor {
        var redactor = Redactor()
        for (name, value) in environment where isSecretName(name) {
            for part in parts(ofSecretURL: value) { redactor.add(part) }
        }
        return redactor
    }

    /// A secret URL and the parts of it that are secrets too; just the text when it is no URL.
    static func parts(ofSecretURL url: String) -> [String] {
        guard url.contains("://"), let components = URLComponents(string: url) else { return [url] }
        var parts = [url]
        if components.percentEncodedPath.count > 1 { parts += [components.percentEncodedPath, components.path] }
        parts += [components.percentEncodedQuery, components.percentEncodedPassword, components.password].compactMap { $0 }
        return parts
    }
}

extension Dictionary where Key == String, Value == String {
    /// The variable's value, or `nil` when it is unset or empty (an empty token is no token).
    public func nonEmpty(_ name: String) -> String? {
        guard let value = self[name], !value.isEmpty else { return nil }
        return value
    }

    /// A credential variable's value, as `nonEmpty`, registered with `Secrets` as it is read so
    /// that it is hidden wherever text leaves the process.
    public func secret(_ name: String) -> String? {
        let value = nonEmpty(name)
        Secrets.register(value)
        return value
    }
}
