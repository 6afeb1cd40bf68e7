import Foundation
import Testing

@testable import ReleaseCore

/// What the one redactor hides: each secret as written, inside a URL and inside JSON text, and
/// nothing that merely looks like one.
@Suite struct SecretsTests {
    @Test func aSecretIsHiddenAsWrittenPercentEncodedAndJSONEscaped() {
        let token = "tok/en+with=\"odd\"chars"
        let redactor = Redactor(secrets: [token])
        #expect(redactor("401: Invalid credentials provided: Bearer \(token).") == "401: Invalid credentials provided: Bearer ***.")
        let encoded = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        #expect(redactor("GET /hook?token=\(encoded)&x=1") == "GET /hook?token=***&x=1")
        let body = #"{"message":"bad tok\/en+with=\"odd\"chars"}"#
        #expect(redactor(body) == #"{"message":"bad ***"}"#)
        #expect(redactor(JSONValue.string("tok/en+with=\"odd\"chars")).text == #""***""#)
    }

    @Test func shortValuesAndTextWithoutSecretsAreLeftAlone() {
        let redactor = Redactor(secrets: ["true", "1234567", nil, "long-enough-secret"])
        #expect(redactor("verified: true, id 1234567") == "verified: true, id 1234567")
        #expect(redactor("héllo wörld, nothing here") == "héllo wörld, nothing here")
        #expect(redactor("ünïcode long-enough-secret ✓") == "ünïcode *** ✓")
    }

    @Test func aSecretInsideAnotherIsReplacedWhole() {
        let redactor = Redactor(secrets: ["abcdefgh", "xx-abcdefgh-yy"])
        #expect(redactor("a xx-abcdefgh-yy b abcdefgh") == "a *** b ***")
    }

    @Test func jsonKeepsItsStructureAndNumbers() {
        let redactor = Redactor(secrets: ["12345678", "s3cr3t-value"])
        let value = JSONValue.object([("id", .int(12_345_678)), ("s3cr3t-value", .array([.string("x 12345678 s3cr3t-value")]))])
        let redacted = redactor(value)
        #expect(redacted.text == #"{"id":12345678,"***":["x *** ***"]}"#)
        #expect(JSONValue(parsing: redacted.text) != nil)
    }

    @Test(arguments: [
        ("HEROKU_API_KEY", true), ("RAILWAY_API_TOKEN", true), ("RAILWAY_TOKEN", true), ("DIGITALOCEAN_ACCESS_TOKEN", true),
        ("AWS_SECRET_ACCESS_KEY", true), ("AWS_SESSION_TOKEN", true), ("GITHUB_TOKEN", true), ("PGPASSWORD", true),
        ("SLACK_WEBHOOK_URL", true), ("DD_APP_KEY", true), ("AWS_ACCESS_KEY_ID", false), ("HOME", false), ("PATH", false),
        ("RELEASE_DATABASE_URL", false), ("AWS_SHARED_CREDENTIALS_FILE", false),
    ])
    func credentialVariablesAreKnownByTheirNames(name: String, secret: Bool) {
        #expect(Secrets.isSecretName(name) == secret)
    }

    @Test func theEnvironmentsCredentialsAndAWebhooksPathAreSecretsBeforeAnyoneReadsThem() {
        let redactor = Secrets.fromEnvironment([
            "DEPLOY_TOKEN": "deploy-token-0123456789", "HOME": "/home/someone-long",
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
        ])
        #expect(redactor("echo deploy-token-0123456789 in /home/someone-long") == "echo *** in /home/someone-long")
        #expect(redactor("POST /services/T000/B000/XXXXXXXX failed") == "POST *** failed")
    }

    @Test func aValueReadAsASecretIsHiddenFromThenOn() {
        let value = "read-as-secret-\(UUID().uuidString)"
        #expect(Secrets.redact("x \(value)") == "x \(value)")
        #expect(["MY_VARIABLE": value].secret("MY_VARIABLE") == value)
        #expect(Secrets.redact("x \(value)") == "x ***")
        #expect(["MY_VARIABLE": ""].secret("MY_VARIABLE") == nil)
        Secrets.register(url: "https://example.com/hooks/\(value)-path?key=\(value)-query")
        #expect(Secrets.redact("/hooks/\(value)-path") == "***")
    }
}
