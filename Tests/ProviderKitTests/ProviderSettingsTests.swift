import ProviderKit
import ReleaseCore
import Testing

/// The keys and variables every API provider reads the same way: its block's shared keys, its
/// token, its API base URL.
@Suite struct ProviderSettingsTests {
    static func block(_ yaml: String) throws -> ConfigReader {
        ConfigReader(file: "release.yml", path: "environments.main.example", value: try ConfigValue.parse(yaml: yaml, file: "release.yml"))
    }

    @Test func theSharedKeysAreReadWithTheProvidersDefaults() throws {
        let (entries, settings) = try ProviderSettings.read(
            Self.block("{app: crm, timeout: 5m}"), keys: ["app"], pollInterval: .seconds(2), timeout: .minutes(30))
        #expect(try entries["app"]?.string() == "crm")
        #expect(settings.apiURL == nil)
        #expect(settings.pollInterval == .seconds(2))
        #expect(settings.timeout == .minutes(5))
    }

    @Test func anUnknownKeyListsTheProvidersOwnKeysThenTheSharedOnes() throws {
        let error = try #require(throws: ReleaseError.self) {
            try ProviderSettings.read(Self.block("{app: crm, poll: 1s}"), keys: ["app"], pollInterval: .seconds(2), timeout: .minutes(30))
        }
        #expect(
            error.message
                == "release.yml:1: environments.main.example.poll: unknown key 'poll'; expected one of app, api_url, poll_interval, timeout.")
    }

    @Test func theBaseURLIsAVariableElseApiURLElseThePlatforms() throws {
        let (_, settings) = try ProviderSettings.read(
            Self.block("{api_url: 'https://proxy.example'}"), keys: [], pollInterval: .seconds(2), timeout: .minutes(30))
        let url = { (environment: [String: String]) in
            settings.baseURL(overriddenBy: ["EXAMPLE_URL_SERVICE", "EXAMPLE_URL"], in: environment, platform: "https://api.example")
        }
        #expect(url(["EXAMPLE_URL": "http://127.0.0.1:1", "EXAMPLE_URL_SERVICE": "http://127.0.0.1:2"]) == "http://127.0.0.1:2")
        #expect(url(["EXAMPLE_URL": "http://127.0.0.1:1", "EXAMPLE_URL_SERVICE": ""]) == "http://127.0.0.1:1")
        #expect(url([:]) == "https://proxy.example")
        var unset = settings
        unset.apiURL = nil
        #expect(unset.baseURL(overriddenBy: ["EXAMPLE_URL"], in: [:], platform: "https://api.example") == "https://api.example")
    }

    @Test func theFirstTokenSetIsUsedAndEveryOneIsHidden() {
        let credential = APICredential(
            "EXAMPLE_API_TOKEN", "EXAMPLE_TOKEN", in: ["EXAMPLE_API_TOKEN": "", "EXAMPLE_TOKEN": "tok-project-0123456789"],
            advice: "a token")
        #expect(credential.variable == "EXAMPLE_TOKEN")
        #expect(credential.token == "tok-project-0123456789")
        let errors = APIErrors(token: credential, hint: " (`example login`)", forbiddenAdvice: { _ in "" }, lookupKeys: "")
        #expect(errors.credential == "EXAMPLE_TOKEN", "messages name the variable in use")
        #expect(errors.rejectedAdvice == "Set EXAMPLE_TOKEN to a valid token (`example login`).")
        let both = APICredential(
            "EXAMPLE_API_TOKEN", "EXAMPLE_TOKEN", in: ["EXAMPLE_API_TOKEN": "tok-account-0123456789", "EXAMPLE_TOKEN": "tok-unused-0123456789"],
            advice: "a token")
        #expect(both.variable == "EXAMPLE_API_TOKEN")
        #expect(both.bearer == ("Authorization", "Bearer tok-account-0123456789"))
        #expect(Secrets.redact("tok-account-0123456789 tok-unused-0123456789") == "*** ***", "a token read but not used is hidden too")
        #expect(throws: Never.self) { try both.preflight() }
    }

    @Test func aMissingTokenIsAUsageErrorSayingWhatToExport() {
        let one = APICredential("EXAMPLE_TOKEN", in: [:], advice: "an Example token and try again")
        #expect(one.name == "EXAMPLE_TOKEN")
        #expect { try one.preflight() } throws: { error in
            (error as? ReleaseError)?.code == .usage
                && (error as? ReleaseError)?.message == "EXAMPLE_TOKEN is not set. Export an Example token and try again."
        }
        let two = APICredential("EXAMPLE_API_TOKEN", "EXAMPLE_TOKEN", in: [:], advice: "one of them")
        #expect { try two.preflight() } throws: { error in
            (error as? ReleaseError)?.message == "Neither EXAMPLE_API_TOKEN nor EXAMPLE_TOKEN is set. Export one of them."
        }
    }
}
