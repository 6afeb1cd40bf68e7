import Foundation

/// Reads the parts of a PostgreSQL connection string that must never be shown.
public enum ConnectionString {
    /// The password in a `postgresql://user:password@host/db` URL or a `password=…` key, if any.
    public static func password(in url: String) -> String? {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            guard let schemeEnd = url.range(of: "://") else { return nil }
            let rest = url[schemeEnd.upperBound...]
            guard let at = rest.lastIndex(of: "@") else { return passwordParameter(in: url) }
            let userInfo = rest[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                return String(userInfo[userInfo.index(after: colon)...])
            }
            return passwordParameter(in: url)
        }
        for part in url.split(separator: " ") where part.hasPrefix("password=") {
            return String(part.dropFirst("password=".count)).trimmingCharacters(in: "'")
        }
        return nil
    }

    /// The URL with any password replaced by `***`, safe to print.
    public static func redacted(_ url: String) -> String {
        guard let password = password(in: url), !password.isEmpty else { return url }
        return url.replacingAll(password, with: "***")
    }

    private static func passwordParameter(in url: String) -> String? {
        guard let query = url.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") where pair.hasPrefix("password=") {
            return String(pair.dropFirst("password=".count))
        }
        return nil
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}
