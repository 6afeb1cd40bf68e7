import Foundation
import ReleaseCore

/// Where AWS credentials and the region come from, the way the AWS CLI and SDKs look for them:
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) first; otherwise the
/// profile named by `AWS_PROFILE` (else `default`) in the shared credentials file
/// (`AWS_SHARED_CREDENTIALS_FILE`, else ~/.aws/credentials) or the config file (`AWS_CONFIG_FILE`,
/// else ~/.aws/config). The region: release.yml's `region`, then `AWS_REGION`, then
/// `AWS_DEFAULT_REGION`, then the profile's `region` in the config file.
public struct AWSSession: Sendable {
    /// The credentials, when found.
    public var credentials: AWSCredentials?
    /// The region, when found.
    public var region: String?
    /// Why no credentials were found, as advice; nil when they were.
    public var missingCredentials: String?

    /// Resolves credentials and region.
    public init(environment: [String: String], configuredRegion: String?) {
        let profile = environment.nonEmpty("AWS_PROFILE") ?? environment.nonEmpty("AWS_DEFAULT_PROFILE") ?? "default"
        let home = environment.nonEmpty("HOME") ?? NSHomeDirectory()
        let credentialsFile = environment.nonEmpty("AWS_SHARED_CREDENTIALS_FILE") ?? "\(home)/.aws/credentials"
        let configFile = environment.nonEmpty("AWS_CONFIG_FILE") ?? "\(home)/.aws/config"
        let fromCredentials = Self.section(profile, ofFile: credentialsFile, configStyle: false)
        let fromConfig = Self.section(profile, ofFile: configFile, configStyle: true)

        if let key = environment.nonEmpty("AWS_ACCESS_KEY_ID"), let secret = environment.nonEmpty("AWS_SECRET_ACCESS_KEY") {
            credentials = AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: environment.nonEmpty("AWS_SESSION_TOKEN"))
        } else if let found = Self.credentials(in: fromCredentials) ?? Self.credentials(in: fromConfig) {
            credentials = found
        }
        if credentials == nil {
            let partial = environment.nonEmpty("AWS_ACCESS_KEY_ID") != nil || environment.nonEmpty("AWS_SECRET_ACCESS_KEY") != nil
            if partial {
                missingCredentials =
                    "Only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set. Set both (and AWS_SESSION_TOKEN for "
                    + "temporary credentials)."
            } else if environment.nonEmpty("AWS_PROFILE") != nil {
                missingCredentials =
                    "AWS_PROFILE names '\(profile)', but neither \(credentialsFile) nor \(configFile) has aws_access_key_id "
                    + "and aws_secret_access_key for it. Add them, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            } else {
                missingCredentials =
                    "No AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
                    + "credentials), or AWS_PROFILE naming a profile in ~/.aws/credentials."
            }
        }
        region =
            configuredRegion ?? environment.nonEmpty("AWS_REGION") ?? environment.nonEmpty("AWS_DEFAULT_REGION")
            ?? fromConfig["region"].flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func credentials(in section: [String: String]) -> AWSCredentials? {
        guard let key = section["aws_access_key_id"], !key.isEmpty, let secret = section["aws_secret_access_key"], !secret.isEmpty else { return nil }
        let token = section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token)
    }

    /// The `key = value` pairs of one profile's section. In the config file a profile other than
    /// `default` is `[profile NAME]`; in the credentials file it is `[NAME]`.
    static func section(_ profile: String, ofFile path: String, configStyle: Bool) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        return section(profile, ofText: text, configStyle: configStyle)
    }

    /// As `section(_:ofFile:configStyle:)`, from the file's text.
    static func section(_ profile: String, ofText text: String, configStyle: Bool) -> [String: String] {
        var wanted: Set<String> = [profile]
        if configStyle { wanted = profile == "default" ? ["default", "profile default"] : ["profile \(profile)"] }
        var values: [String: String] = [:]
        var inside = false
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(whereSeparator: \.isWhitespace).joined(separator: " ")
                inside = wanted.contains(name)
                continue
            }
            guard inside, raw.first?.isWhitespace != true, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if values[key] == nil { values[key] = value }
        }
        return values
    }
}
