import ArgumentParser

/// Options every command takes, before or after the subcommand.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Path to release.yml (else $RELEASE_CONFIG, else ./release.yml).")
    var config: String?

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (else $RELEASE_DATABASE_URL, $DATABASE_URL, libpq defaults).")
    var databaseURL: String?

    @Option(name: .long, help: "Who is acting (else $RELEASE_ACTOR, $GITHUB_ACTOR, the login name).")
    var actor: String?

    @Flag(name: .long, help: "Print JSON for scripts.")
    var json = false

    @Flag(name: .long, help: "Print only results and errors, no progress.")
    var quiet = false

    @Flag(name: .customLong("no-color"), help: "Plain output (also NO_COLOR).")
    var noColor = false

    /// The names of the options that take a value, for moving them after the subcommand.
    static let valued: Set<String> = ["--config", "--database-url", "--actor"]
    /// The flags.
    static let flags: Set<String> = ["--json", "--quiet", "--no-color"]

    /// Moves global options written before the subcommand to the end, where every subcommand
    /// parses them: `release --json status` works like `release status --json`.
    static func reorder(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if flags.contains(argument) {
                leading.append(argument)
                index += 1
            } else if valued.contains(name) {
                leading.append(argument)
                if !argument.contains("="), index + 1 < arguments.count {
                    leading.append(arguments[index + 1])
                    index += 1
                }
                index += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty else { return arguments }
        var rest = Array(arguments[index...])
        // Keep anything after a `--` terminator where it is.
        if let terminator = rest.firstIndex(of: "--") {
            rest.insert(contentsOf: leading, at: terminator)
            return rest
        }
        return rest + leading
    }
}
