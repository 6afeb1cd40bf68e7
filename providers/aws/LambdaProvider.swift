import Foundation
import ProviderKit
import ReleaseCore

/// Deploys to an AWS Lambda alias: `UpdateFunctionCode` from an image URI or `s3://bucket/key`,
/// waits for the update, `PublishVersion` (only of the code it uploaded), then `UpdateAlias` to
/// the new version. Rolls back by moving the alias to the version recorded when the older release
/// went live.
public struct LambdaProvider: PlatformProvider {
    /// The provider's name in release.yml.
    public static let providerName = "aws-lambda"

    /// The `aws-lambda:` block of an environment.
    public struct Configuration: ProviderBlock, Equatable {
        /// The region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
        public var region: String?
        /// The function's name or ARN.
        public var function: String
        /// The alias that serves traffic.
        public var alias: String
        /// `api_url`, `poll_interval` for a code update (default 2s), `timeout` for one (default 10m).
        public var settings: ProviderSettings

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let (entries, settings) = try ProviderSettings.read(
                reader, keys: ["region", "function", "alias"], pollInterval: .seconds(2), timeout: .minutes(10))
            region = try entries["region"]?.string()
            function = try entries.required("function", "the Lambda function's name").string()
            alias = try entries.required("alias", "the alias that serves traffic, such as live").string()
            self.settings = settings
        }
    }

    /// Where the code comes from.
    enum Code: Equatable {
        case s3(bucket: String, key: String, version: String?)
        case image(String)

        /// `s3://bucket/key[?versionId=…]` or a container image URI.
        init(artifact: String?, release: String) throws {
            guard let artifact, !artifact.isEmpty else {
                throw ProviderError(
                    .configuration,
                    "Release \(release) has no artifact; aws-lambda deploys a zip in S3 or a container image. "
                        + "Create the release with --artifact s3://BUCKET/KEY or --artifact ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG.")
            }
            if artifact.hasPrefix("s3://") {
                var rest = artifact.dropFirst("s3://".count)
                var version: String?
                if let question = rest.firstIndex(of: "?") {
                    let query = rest[rest.index(after: question)...]
                    rest = rest[..<question]
                    for pair in query.split(separator: "&") where pair.hasPrefix("versionId=") {
                        version = String(pair.dropFirst("versionId=".count)).removingPercentEncoding
                    }
                }
                guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex, rest.index(after: slash) != rest.endIndex else {
                    throw ProviderError(.configuration, "Release \(release)'s artifact \(artifact) is not s3://BUCKET/KEY.")
                }
                self = .s3(bucket: String(rest[..<slash]), key: String(rest[rest.index(after: slash)...]), version: version)
            } else if artifact.contains("://") {
                throw ProviderError(
                    .configuration,
                    "Release \(release)'s artifact \(artifact) is neither s3://BUCKET/KEY nor a container image "
                        + "URI; aws-lambda can deploy only those.")
            } else {
                self = .image(artifact)
            }
        }

        var input: JSONValue {
            switch self {
            case let .s3(bucket, key, version):
                var fields: [(String, JSONValue)] = [("S3Bucket", .string(bucket)), ("S3Key", .string(key))]
                if let version { fields.append(("S3ObjectVersion", .string(version))) }
                fields.append(("Publish", .bool(false)))
                return .object(fields)
            case let .image(uri):
                return .object([("ImageUri", .string(uri)), ("Publish", .bool(false))])
            }
        }

        var packageType: String {
            if case .image = self { return "Image" }
            return "Zip"
        }

        var description: String {
            switch self {
            case let .s3(bucket, key, _): "s3://\(bucket)/\(key)"
            case let .image(uri): uri
            }
        }
    }

    let configuration: Configuration
    /// Credentials and region, from the block and the process environment.
    public let credentials: AWSAccess
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        credentials = AWSAccess(.lambda, environment: environment, region: configuration.region, block: Self.providerName)
        self.progress = progress
    }

    func client() throws -> AWSClient {
        try credentials.client(settings: configuration.settings, lookupKeys: Self.blockKeys("function", "alias", "region"))
    }

    private var functionPath: String { "/2015-03-31/functions/\(SigV4Signer.uriEncode(configuration.function))" }
    private var aliasPath: String { "\(functionPath)/aliases/\(SigV4Signer.uriEncode(configuration.alias))" }
    private var name: String { "function \(configuration.function)" }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        let lambda = try client()
        let code = try Code(artifact: request.release.artifact, release: request.release.version)
        let alias = try await lambda.rest(.GET, aliasPath, operation: "GetAlias")
        let previous = alias["FunctionVersion"]?.stringValue
        if let version = sameFunctionVersion(request) {
            // Build once, deploy many: the source alias's published version is the very same code.
            _ = try await lambda.rest(.GET, "\(functionPath)/configuration?Qualifier=\(version)", operation: "GetFunctionConfiguration")
            progress("Promoting version \(version) of Lambda \(name), which \(request.sourceEnvironment?.name ?? "the source") serves.")
            var operation: [(String, JSONValue)] = [("version", .string(version))]
            if let previous { operation.append(("previous_version", .string(previous))) }
            try await record(.object(operation))
            return try await point(lambda, at: version)
        }
        let before = try await lambda.rest(.GET, "\(functionPath)/configuration", operation: "GetFunctionConfiguration")
        if let type = before["PackageType"]?.stringValue, type != code.packageType {
            throw ProviderError(
                .configuration,
                "Lambda \(name) is a \(type) function, but release \(request.release.version)'s artifact "
                    + "\(code.description) is \(code.packageType == "Image" ? "a container image" : "a zip in S3"). Deploy the matching kind of "
                    + "artifact.")
        }
        progress("Updating the code of Lambda \(name) to \(code.description)…")
        let updated = try await lambda.rest(.PUT, "\(functionPath)/code", code.input, operation: "UpdateFunctionCode")
        guard let sha = updated["CodeSha256"]?.stringValue else {
            throw ProviderError(.unreachable, "Lambda accepted the code of \(name) but did not say its CodeSha256.")
        }
        try await waitForUpdate(lambda)
        let published = try await lambda.rest(
            .POST, "\(functionPath)/versions",
            .object([
                ("CodeSha256", .string(sha)), ("Description", .string("release \(request.release.version)")),
            ]), operation: "PublishVersion")
        guard let version = published["Version"]?.stringValue else {
            throw ProviderError(.unreachable, "Lambda published a version of \(name) but did not say its number.")
        }
        progress("Published version \(version) of Lambda \(name).")
        var operation: [(String, JSONValue)] = [("version", .string(version))]
        if let previous { operation.append(("previous_version", .string(previous))) }
        try await record(.object(operation))
        return try await point(lambda, at: version)
    }

    /// On a promotion from an alias of the same function in the same region, the version the
    /// source serves (a published version never changes), else nil.
    func sameFunctionVersion(_ request: DeploymentRequest) -> String? {
        guard request.kind == .promote, let source = request.sourceEnvironment, source.provider == Self.providerName,
            let sourceBlock = try? Configuration(reader: source.providerSettings),
            sourceBlock.function == configuration.function,
            AWSSession(environment: credentials.environment, configuredRegion: sourceBlock.region).region == credentials.session.region,
            sourceBlock.settings.apiURL == configuration.settings.apiURL,
            request.sourceReference?["function"]?.stringValue == configuration.function,
            let version = request.sourceReference?["version"]?.stringValue
        else { return nil }
        return version
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        guard let version = request.targetReference?["version"]?.stringValue else {
            return try await deploy(request, record: record)
        }
        let lambda = try client()
        try await record(.object([("version", .string(version)), ("rollback", .bool(true))]))
        progress("Moving alias \(configuration.alias) of Lambda \(name) back to version \(version)…")
        return try await point(lambda, at: version)
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        guard let version = operation["version"]?.stringValue else {
            return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
        }
        let lambda = try client()
        progress("Finishing what the previous run started: alias \(configuration.alias) of Lambda \(name) to version \(version)…")
        return try await point(lambda, at: version)
    }

    /// Moves the alias, all of its traffic, to `version`.
    private func point(_ lambda: AWSClient, at version: String) async throws -> DeploymentOutcome {
        let answer = try await lambda.rest(
            .PUT, aliasPath,
            .object([
                ("FunctionVersion", .string(version)),
                ("RoutingConfig", .object([("AdditionalVersionWeights", .object([]))])),
            ]), operation: "UpdateAlias")
        guard answer["FunctionVersion"]?.stringValue == version else {
            throw ProviderError(
                .failed,
                "Lambda did not move alias \(configuration.alias) of \(name) to version \(version) (it points at "
                    + "\(answer["FunctionVersion"]?.stringValue ?? "nothing")).")
        }
        progress("Alias \(configuration.alias) of Lambda \(name) now serves version \(version).")
        return DeploymentOutcome(
            liveReference: .object([
                ("version", .string(version)), ("function", .string(configuration.function)),
                ("alias", .string(configuration.alias)),
            ]),
            summary: "Lambda \(configuration.function):\(configuration.alias) → version \(version)")
    }

    /// Waits until the function's last update is Successful; Failed or the deadline is a failure
    /// (the alias still serves the old version then).
    private func waitForUpdate(_ lambda: AWSClient) async throws {
        let poller = configuration.settings.poller(progress: progress)
        try await poller.wait {
            try await lambda.rest(.GET, "\(functionPath)/configuration", operation: "GetFunctionConfiguration")
        } report: { answer in
            let update = Self.update(answer)
            return update.status == "Successful" ? nil : "Lambda \(name): \(update)"
        } until: { answer in
            let update = Self.update(answer)
            if update.status == "Failed" || update.state == "Failed" {
                let reason = answer["LastUpdateStatusReason"]?.stringValue ?? answer["StateReason"]?.stringValue ?? "no reason given"
                let code = answer["LastUpdateStatusReasonCode"]?.stringValue ?? answer["StateReasonCode"]?.stringValue
                throw ProviderError(.failed, "Lambda could not update the code of \(name): \(code.map { "\($0): " } ?? "")\(reason).")
            }
            return update.status == "Successful" && update.state != "Pending" ? () : nil
        } expired: { last in
            throw poller.notFinished("The code update of Lambda \(name)", last: last.map { "\(Self.update($0))" })
        }
    }

    /// Where a function's last code update stands, from GetFunctionConfiguration.
    struct Update: CustomStringConvertible {
        var status: String
        var state: String
        var description: String { "update \(status), state \(state)" }
    }

    static func update(_ answer: JSONValue) -> Update {
        Update(status: answer["LastUpdateStatus"]?.stringValue ?? "Successful", state: answer["State"]?.stringValue ?? "Active")
    }
}
