import ReleaseCore
import Testing

/// Shared helpers for the ReleaseCore tests (not a test file of its own).

/// Parses an RFC 3339 literal, failing the current test when it does not parse.
func instant(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Timestamp {
    try #require(Timestamp(parsing: text), "could not parse \(text)", sourceLocation: sourceLocation)
}

/// The provider names the parser is handed: `release`'s registry's, in its order (ProviderKitTests
/// hold the registry to this list).
let providerNames = ["command", "heroku", "railway", "digitalocean", "aws-ecs", "aws-lambda"]

/// Parses release.yml text, failing the current test with the error message when it does not parse.
func configuration(_ yaml: String, file: String = "release.yml") throws -> ReleaseConfiguration {
    try ReleaseConfiguration.parse(yaml: yaml, file: file, providers: providerNames)
}

/// The message of the configuration error `yaml` produces, or a recorded failure when it parses.
func configError(
    _ yaml: String, file: String = "release.yml",
    sourceLocation: SourceLocation = #_sourceLocation
) -> String {
    do {
        _ = try configuration(yaml, file: file)
        Issue.record("expected a configuration error, but the file parsed", sourceLocation: sourceLocation)
        return ""
    } catch let error as ReleaseError {
        #expect(error.code == .usage, "configuration errors exit 2", sourceLocation: sourceLocation)
        return error.message
    } catch {
        Issue.record("expected a ReleaseError, got \(error)", sourceLocation: sourceLocation)
        return ""
    }
}

/// A provider block nobody reads in these tests.
let emptySettings = ConfigReader(file: "release.yml", path: "", value: .null(line: 1))

/// An environment with the given gates.
func environment(
    _ name: String = "main", gates: GatePolicy = GatePolicy(), promoteFrom: String? = "develop"
)
    -> EnvironmentConfiguration
{
    EnvironmentConfiguration(
        name: name, provider: "command", providerSettings: emptySettings,
        promoteFrom: promoteFrom, gates: gates)
}
