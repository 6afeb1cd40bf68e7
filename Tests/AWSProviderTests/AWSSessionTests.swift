import Foundation
import ReleaseCore
import Testing

@testable import AWSProvider

/// Where credentials and the region come from, as the AWS CLI finds them.
@Suite struct AWSSessionTests {
    /// A temporary HOME with ~/.aws/credentials and ~/.aws/config.
    static func home(credentials: String?, config: String?) throws -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-home-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        if let credentials { try credentials.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8) }
        if let config { try config.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8) }
        return home
    }

    static let files = (
        credentials: """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default-secret

        [ci]
        aws_access_key_id=AKIACI
        aws_secret_access_key=ci-secret
        aws_session_token = ci-token
        """,
        config: """
        [default]
        region = eu-central-1

        [profile ci]
        region = us-west-2
        # a comment
        [profile keys-in-config]
        aws_access_key_id = AKIACONFIG
        aws_secret_access_key = config-secret
        region = ap-southeast-2
        """
    )

    @Test("environment variables come first, with the session token")
    func environmentFirst() throws {
        let home = try Self.home(credentials: Self.files.credentials, config: Self.files.config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let session = AWSSession(
            environment: [
                "HOME": home, "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env-secret",
                "AWS_SESSION_TOKEN": "env-token", "AWS_PROFILE": "ci", "AWS_REGION": "sa-east-1",
            ],
            configuredRegion: nil)
        #expect(session.credentials == AWSCredentials(accessKeyID: "AKIAENV", secretAccessKey: "env-secret", sessionToken: "env-token"))
        #expect(session.region == "sa-east-1")
        #expect(session.missingCredentials == nil)
    }

    @Test("AWS_PROFILE picks a section of ~/.aws/credentials and its region from ~/.aws/config")
    func namedProfile() throws {
        let home = try Self.home(credentials: Self.files.credentials, config: Self.files.config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let session = AWSSession(environment: ["HOME": home, "AWS_PROFILE": "ci"], configuredRegion: nil)
        #expect(session.credentials == AWSCredentials(accessKeyID: "AKIACI", secretAccessKey: "ci-secret", sessionToken: "ci-token"))
        #expect(session.region == "us-west-2")
        let fallback = AWSSession(environment: ["HOME": home], configuredRegion: nil)
        #expect(fallback.credentials?.accessKeyID == "AKIADEFAULT")
        #expect(fallback.credentials?.sessionToken == nil)
        #expect(fallback.region == "eu-central-1")
        let inConfig = AWSSession(environment: ["HOME": home, "AWS_PROFILE": "keys-in-config"], configuredRegion: nil)
        #expect(inConfig.credentials?.accessKeyID == "AKIACONFIG")
        #expect(inConfig.region == "ap-southeast-2")
    }

    @Test("release.yml's region wins over AWS_REGION, which wins over AWS_DEFAULT_REGION and the profile")
    func regionOrder() throws {
        let home = try Self.home(credentials: nil, config: Self.files.config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let all = ["HOME": home, "AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "ca-central-1"]
        #expect(AWSSession(environment: all, configuredRegion: "eu-west-1").region == "eu-west-1")
        #expect(AWSSession(environment: all, configuredRegion: nil).region == "us-east-2")
        #expect(AWSSession(environment: ["HOME": home, "AWS_DEFAULT_REGION": "ca-central-1"], configuredRegion: nil).region == "ca-central-1")
        #expect(AWSSession(environment: ["HOME": home], configuredRegion: nil).region == "eu-central-1")
        #expect(AWSSession(environment: ["HOME": home + "/nowhere"], configuredRegion: nil).region == nil)
    }

    @Test("missing or partial credentials say what to set")
    func missing() throws {
        let home = try Self.home(credentials: nil, config: nil)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let none = AWSSession(environment: ["HOME": home], configuredRegion: "us-east-1")
        #expect(none.credentials == nil)
        #expect(none.missingCredentials?.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") == true)
        let partial = AWSSession(environment: ["HOME": home, "AWS_ACCESS_KEY_ID": "AKIAENV"], configuredRegion: nil)
        #expect(partial.credentials == nil)
        #expect(partial.missingCredentials?.contains("Only one of") == true)
        let unknownProfile = AWSSession(environment: ["HOME": home, "AWS_PROFILE": "nope"], configuredRegion: nil)
        #expect(unknownProfile.missingCredentials?.contains("'nope'") == true)
        #expect(throws: ReleaseError.self) { try ECSProvider(configuration: Fixtures.ecs(), environment: ["HOME": home]).preflight() }
        #expect(throws: ReleaseError.self) {
            try LambdaProvider(
                configuration: Fixtures.lambda(), environment: ["HOME": home, "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"]
            ).preflight()
        }
    }

    @Test("AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files")
    func movedFiles() throws {
        let home = try Self.home(credentials: Self.files.credentials, config: Self.files.config)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let session = AWSSession(
            environment: [
                "HOME": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": home + "/.aws/credentials",
                "AWS_CONFIG_FILE": home + "/.aws/config", "AWS_PROFILE": "ci",
            ], configuredRegion: nil)
        #expect(session.credentials?.accessKeyID == "AKIACI")
        #expect(session.region == "us-west-2")
    }
}
