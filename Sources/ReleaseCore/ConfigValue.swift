import Yams

/// A parsed release.yml node that remembers its line, so every error can name file, line and key.
public indirect enum ConfigValue: Sendable {
    case scalar(String, line: Int)
    case mapping([(key: String, value: ConfigValue, line: Int)], line: Int)
    case sequence([ConfigValue], line: Int)
    case null(line: Int)

    /// The 1-based line where the node starts.
    public var line: Int {
        switch self {
        case let .scalar(_, line), let .mapping(_, line), let .sequence(_, line), let .null(line): line
        }
    }

    /// Parses YAML text; errors name the file and line.
    public static func parse(yaml text: String, file: String) throws -> ConfigValue {
        let node: Node?
        do {
            // The basic resolver tags nothing: `convert` reads every scalar as text anyway, and the
            // default one compiles seven ICU regular expressions, a fifth of a command's start-up.
            // Composing builds no Swift values, so no constructor maps (Yams builds its default
            // ones at each call); the encoding named saves reading the whole environment.
            node = try Yams.compose(yaml: text, .basic, Constructor([:], [:], [:]), .utf8)
        } catch let error as YamlError {
            throw ReleaseError.usage(describe(error, file: file))
        } catch {
            throw ReleaseError.usage("\(file): not valid YAML. Fix the file and try again.")
        }
        guard let node else { return .null(line: 1) }
        return try convert(node, file: file)
    }

    /// `release.yml:5: not valid YAML: did not find expected key (while parsing a block mapping at line 3). …`:
    /// the line first, like every other config error, and libyaml's problem, not only its context.
    private static func describe(_ error: YamlError, file: String) -> String {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            let during = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return "\(file):\(mark.line): not valid YAML: \(problem)\(during). Fix the file and try again."
        case let .reader(problem, offset, _, yaml):
            let line = offset.map { 1 + yaml.prefix($0).filter(\.isNewline).count }
            return "\(file):\(line.map(String.init) ?? "?"): not valid YAML: \(problem). Fix the file and try again."
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            let subject = duplicates.count == 1 ? "key \(keys) appears" : "keys \(keys) appear"
            return "\(file):\(context.mark.line): \(subject) more than once in the same mapping; keep one."
        default:
            let text = "\(error)"
            let flattened = text.split(separator: "\n").map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
            return "\(file): not valid YAML: \(flattened.first.map(String.init) ?? "syntax error"). Fix the file and try again."
        }
    }

    private static func line(of node: Node) -> Int {
        node.mark.map { $0.line } ?? 0
    }

    private static func convert(_ node: Node, file: String) throws -> ConfigValue {
        let line = line(of: node)
        switch node {
        case let .scalar(scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                return .null(line: line)
            }
            return .scalar(scalar.string, line: line)
        case let .mapping(mapping):
            var pairs: [(key: String, value: ConfigValue, line: Int)] = []
            var seen: Set<String> = []
            for (key, value) in mapping {
                guard case let .scalar(keyScalar) = key else {
                    throw ReleaseError.usage("\(file):\(self.line(of: key)): keys must be plain words.")
                }
                let name = keyScalar.string
                guard seen.insert(name).inserted else {
                    throw ReleaseError.usage("\(file):\(self.line(of: key)): key '\(name)' appears twice; keep one.")
                }
                pairs.append((name, try convert(value, file: file), self.line(of: key)))
            }
            return .mapping(pairs, line: line)
        case let .sequence(sequence):
            return .sequence(try sequence.map { try convert($0, file: file) }, line: line)
        case .alias:
            throw ReleaseError.usage("\(file):\(line): YAML aliases are not supported in release.yml; write the value out.")
        }
    }
}

extension Substring {
    func trimmingCharacters(in character: Character) -> Substring {
        var text = self
        while text.first == character { text.removeFirst() }
        while text.last == character { text.removeLast() }
        return text
    }
}

extension ConfigValue {
    /// The node as JSON, every scalar as the text release.yml holds, so that reading it back with
    /// `init(json:)` gives the same settings.
    public var json: JSONValue {
        switch self {
        case let .scalar(text, _): .string(text)
        case let .mapping(pairs, _): .object(pairs.map { ($0.key, $0.value.json) })
        case let .sequence(items, _): .array(items.map(\.json))
        case .null: .null
        }
    }

    /// A node from JSON stored by `json` (or written by hand: numbers and booleans read as their
    /// text); it has no line in any file.
    public init(json: JSONValue) {
        switch json {
        case .null: self = .null(line: 0)
        case let .bool(value): self = .scalar(String(value), line: 0)
        case let .int(value): self = .scalar(String(value), line: 0)
        case let .double(value): self = .scalar(String(value), line: 0)
        case let .string(text): self = .scalar(text, line: 0)
        case let .array(items): self = .sequence(items.map(ConfigValue.init(json:)), line: 0)
        case let .object(pairs): self = .mapping(pairs.map { (key: $0.0, value: ConfigValue(json: $0.1), line: 0) }, line: 0)
        }
    }
}
