/// Reads one node of release.yml with errors that name the file, the line and the key path,
/// and say what was expected.
public struct ConfigReader: Sendable {
    /// The file the node came from, as the user named it.
    public let file: String
    /// The dotted key path, such as `environments.main.gates.soak`.
    public let path: String
    /// The node itself.
    public let value: ConfigValue

    /// Creates a reader over a node.
    public init(file: String, path: String, value: ConfigValue) {
        self.file = file
        self.path = path
        self.value = value
    }

    /// An error located at this node.
    public func error(_ message: String) -> ReleaseError {
        .usage("\(file):\(value.line): \(path.isEmpty ? "" : "\(path): ")\(message)")
    }

    /// Whether the node is absent or null.
    public var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The entries of a mapping, in file order; any key outside `allowed` is an error.
    public func mapping(allowed: [String]) throws -> OrderedEntries {
        guard case let .mapping(pairs, _) = value else {
            throw error("expected a mapping of \(allowed.joined(separator: ", ")).")
        }
        for pair in pairs where !allowed.contains(pair.key) {
            let keyPath = path.isEmpty ? pair.key : "\(path).\(pair.key)"
            throw ReleaseError.usage(
                "\(file):\(pair.line): \(keyPath): unknown key '\(pair.key)'; expected one of \(allowed.joined(separator: ", ")).")
        }
        return OrderedEntries(
            entries: pairs.map { pair in
                (pair.key, ConfigReader(file: file, path: path.isEmpty ? pair.key : "\(path).\(pair.key)", value: pair.value))
            }, parent: self)
    }

    /// The entries of a mapping whose keys are names chosen by the user (environments).
    public func namedMapping() throws -> [(String, ConfigReader)] {
        guard case let .mapping(pairs, _) = value else {
            throw error("expected a mapping of names to settings.")
        }
        return pairs.map { pair in
            (pair.key, ConfigReader(file: file, path: path.isEmpty ? pair.key : "\(path).\(pair.key)", value: pair.value))
        }
    }

    /// The items of a sequence.
    public func sequence() throws -> [ConfigReader] {
        guard case let .sequence(items, _) = value else { throw error("expected a list.") }
        return items.enumerated().map { index, item in
            ConfigReader(file: file, path: "\(path)[\(index)]", value: item)
        }
    }

    /// A non-empty string scalar.
    public func string() throws -> String {
        guard case let .scalar(text, _) = value else { throw error("expected a text value.") }
        guard !text.isEmpty else { throw error("must not be empty.") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) else {
            throw error("must not contain control characters.")
        }
        return text
    }

    /// A whole number within `range`.
    public func integer(in range: ClosedRange<Int>) throws -> Int {
        guard case let .scalar(text, _) = value, let number = Int(text) else {
            throw error("expected a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        guard range.contains(number) else {
            throw error("expected a whole number from \(range.lowerBound) to \(range.upperBound), found \(number).")
        }
        return number
    }

    /// A duration such as `500ms`, `30s`, `5m`, `2h` or `1d`; a bare `0` is no time (`for: 0`).
    public func timeSpan(positive: Bool = true) throws -> TimeSpan {
        guard case let .scalar(text, _) = value, let span = text == "0" ? .zero : TimeSpan(parsing: text) else {
            throw error("expected a duration such as 500ms, 30s, 5m, 2h or 1d, found \(quotedScalar).")
        }
        if positive, span.microseconds <= 0 { throw error("expected a duration greater than zero.") }
        return span
    }

    /// `true` or `false`.
    public func boolean() throws -> Bool {
        guard case let .scalar(text, _) = value, let flag = ["true": true, "false": false][text.lowercased()] else {
            throw error("expected true or false, found \(quotedScalar).")
        }
        return flag
    }

    /// An RFC 3339 time such as `2026-12-24T00:00:00Z`.
    public func timestamp() throws -> Timestamp {
        guard case let .scalar(text, _) = value, let time = Timestamp(parsing: text) else {
            throw error("expected an RFC 3339 time such as 2026-12-24T00:00:00Z, found \(quotedScalar).")
        }
        return time
    }

    /// A list of non-empty strings (a single string is accepted as a list of one).
    public func stringList() throws -> [String] {
        if case .scalar = value { return [try string()] }
        return try sequence().map { try $0.string() }
    }

    private var quotedScalar: String {
        switch value {
        case let .scalar(text, _): "'\(text)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .null: "nothing"
        }
    }
}

/// The entries of a mapping, looked up by key, with a reader for missing keys that errors at the
/// parent.
public struct OrderedEntries: Sendable {
    let entries: [(String, ConfigReader)]
    let parent: ConfigReader

    /// The reader for `key`, or `nil` when absent or null.
    public subscript(key: String) -> ConfigReader? {
        guard let reader = entries.first(where: { $0.0 == key })?.1, !reader.isNull else { return nil }
        return reader
    }

    /// The keys, in file order.
    var keys: [String] { entries.map(\.0) }

    /// Whether `key` is written, even with no value (`cloudwatch:` alone configures CloudWatch).
    public func contains(_ key: String) -> Bool {
        entries.contains { $0.0 == key }
    }

    /// The reader for `key` when it is written, null included.
    func written(_ key: String) -> ConfigReader? {
        entries.first { $0.0 == key }?.1
    }

    /// The reader for a key that must be present.
    public func required(_ key: String, _ expectation: String) throws -> ConfigReader {
        guard let reader = self[key] else {
            throw parent.error("missing key '\(key)': \(expectation).")
        }
        return reader
    }
}
