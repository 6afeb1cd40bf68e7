/// Reading release.yml's `migrations:` block, with errors that name the file, the line and the key,
/// like every other block.

extension MigrationsConfiguration {
    /// The placeholders `lint:` may use.
    public static let lintPlaceholders = ["base"]
    /// The placeholders `reverse:` and `reverse_plan:` may use (and need: they run once per app).
    public static let reversePlaceholders = ["app", "target"]

    /// Reads and validates `migrations:`.
    public init(reader: ConfigReader) throws {
        let entries = try reader.mapping(allowed: ["framework", "paths", "lint", "reverse", "reverse_plan"])
        let framework = try entries.required("framework", "how migration files are read: django or generic").choice(Framework.self)
        let pathsReader = try entries.required(
            "paths", "globs of the migration files, relative to the git repository's root, such as \"*/migrations/[0-9][0-9][0-9][0-9]_*.py\"")
        let globReaders = try pathsReader.sequenceOrScalar()
        guard !globReaders.isEmpty else {
            throw pathsReader.error("list at least one glob, such as \"*/migrations/[0-9][0-9][0-9][0-9]_*.py\".")
        }
        var paths: [String] = []
        for globReader in globReaders {
            let glob = try globReader.string()
            if let problem = MigrationPaths.problem(glob) { throw globReader.error(problem) }
            paths.append(glob)
        }
        let lint = try entries["lint"].map { try Self.command($0, placeholders: Self.lintPlaceholders, required: false) }
        let reverse = try entries["reverse"].map { try Self.command($0, placeholders: Self.reversePlaceholders, required: true) }
        let reversePlan = try entries["reverse_plan"].map { try Self.command($0, placeholders: Self.reversePlaceholders, required: true) }
        if reverse != nil, reversePlan == nil {
            throw (entries["reverse"] ?? reader).error(
                "reverse needs reverse_plan, the command that prints what it would undo (it is read before anything is reversed), "
                    + "such as reverse_plan: \"python manage.py migrate {app} {target} --plan\".")
        }
        self.init(framework: framework, paths: paths, lint: lint, reverse: reverse, reversePlan: reversePlan)
    }

    /// The placeholders in `command`: `{name}` with a name of letters, digits and `_`; a shell's
    /// `${NAME}` is not one.
    public static func placeholders(in command: String) -> [String] {
        var names: [String] = []
        let scalars = Array(command.unicodeScalars)
        var index = 0
        while index < scalars.count {
            defer { index += 1 }
            guard scalars[index] == "{", index == 0 || scalars[index - 1] != "$" else { continue }
            var end = index + 1
            while end < scalars.count,
                scalars[end] == "_" || (scalars[end].isASCII && scalars[end].properties.isAlphabetic)
                    || ("0"..."9").contains(scalars[end])
            {
                end += 1
            }
            guard end > index + 1, end < scalars.count, scalars[end] == "}" else { continue }
            names.append(String(String.UnicodeScalarView(scalars[(index + 1)..<end])))
            index = end
        }
        return names
    }

    /// `command` with each placeholder replaced by its value (placeholders without one stay).
    public static func fill(_ command: String, _ values: [String: String]) -> String {
        var result = command
        for name in Set(placeholders(in: command)) {
            guard let value = values[name] else { continue }
            result = result.replacingOccurrences(of: "{\(name)}", with: value)
        }
        return result
    }

    private static func command(_ reader: ConfigReader, placeholders allowed: [String], required: Bool) throws -> String {
        let text = try reader.string()
        let written = placeholders(in: text)
        let listed = allowed.map { "{\($0)}" }.joined(separator: " and ")
        for name in written where !allowed.contains(name) {
            throw reader.error("unknown placeholder '{\(Identifier.shown(name))}'; this command may use \(listed) (a shell variable is ${NAME}).")
        }
        if required, let missing = allowed.first(where: { !written.contains($0) }) {
            throw reader.error(
                "it runs once for each app with migrations to undo, so it needs {\(missing)}: write both \(listed), such as "
                    + "\"python manage.py migrate {app} {target} --noinput\".")
        }
        return text
    }
}

extension ConfigReader {
    /// The items of a sequence, or a single scalar as a list of one.
    fileprivate func sequenceOrScalar() throws -> [ConfigReader] {
        if case .scalar = value { return [self] }
        guard case .sequence = value else { throw error("expected a list of globs.") }
        return try sequence()
    }
}
