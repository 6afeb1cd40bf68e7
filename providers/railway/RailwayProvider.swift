import Foundation
import ProviderKit
import ReleaseCore

/// Deploys to Railway through its public GraphQL API: an image artifact is set as the service
/// instance's source and deployed, anything else deploys the release's commit; the deployment is
/// followed to SUCCESS or a failure, and a rollback re-deploys a recorded deployment.
public struct RailwayProvider: RegistrableProvider {
    /// The provider's name in release.yml.
    public static let providerName = "railway"

    /// The `railway:` block of an environment.
    public struct Configuration: Sendable, Equatable {
        /// The project id.
        public var project: String
        /// The Railway environment id.
        public var environment: String
        /// The service id.
        public var service: String
        /// The GraphQL endpoint (default https://backboard.railway.com/graphql/v2).
        public var apiURL: String?
        /// How often to poll a deployment (default 2s).
        public var pollInterval: TimeSpan
        /// How long a deployment may take (default 30m).
        public var timeout: TimeSpan

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let entries = try reader.mapping(allowed: ["project", "environment", "service", "api_url", "poll_interval", "timeout"])
            project = try entries.required("project", "the Railway project id").string()
            environment = try entries.required("environment", "the Railway environment id").string()
            service = try entries.required("service", "the Railway service id").string()
            apiURL = try entries["api_url"]?.string()
            pollInterval = try entries["poll_interval"]?.timeSpan() ?? .seconds(2)
            timeout = try entries["timeout"]?.timeSpan() ?? .minutes(30)
        }
    }

    /// Statuses after which a deployment will not change, other than SUCCESS.
    static let failures: Set<String> = ["FAILED", "CRASHED", "REMOVED", "SKIPPED"]

    let configuration: Configuration
    let accountToken: String?
    let projectToken: String?
    let endpoint: String
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        accountToken = environment.secret("RAILWAY_API_TOKEN")
        projectToken = environment.secret("RAILWAY_TOKEN")
        endpoint =
            environment.nonEmpty("RAILWAY_API_URL") ?? configuration.apiURL
            ?? "https://backboard.railway.com/graphql/v2"
        self.progress = progress
    }

    /// Builds the provider from its release.yml block.
    public init(block: ConfigReader, context: ProviderRegistry.ProviderContext) throws {
        self.init(configuration: try Configuration(reader: block), environment: context.environment, progress: context.output)
    }

    /// A missing token is a configuration error before any work starts.
    public func preflight() throws {
        guard accountToken != nil || projectToken != nil else {
            throw ReleaseError.usage(
                "Neither RAILWAY_API_TOKEN nor RAILWAY_TOKEN is set. Export an account or workspace token as "
                    + "RAILWAY_API_TOKEN, or a project token as RAILWAY_TOKEN.")
        }
    }

    var client: GraphQLClient {
        var headers: [(String, String)] = [("User-Agent", "release/\(ReleaseInfo.version)"), ("Accept", "application/json")]
        let variable: String
        if let accountToken {
            headers.append(("Authorization", "Bearer \(accountToken)"))
            variable = "RAILWAY_API_TOKEN"
        } else {
            headers.append(("Project-Access-Token", projectToken ?? ""))
            variable = "RAILWAY_TOKEN"
        }
        return GraphQLClient(
            api: APIClient(
                configuration: .init(
                    baseURL: endpoint, headers: headers, platform: "Railway")), tokenVariable: variable)
    }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        let railway = client
        let ids = configuration
        var variables: [(String, JSONValue)] = [("environmentId", .string(ids.environment)), ("serviceId", .string(ids.service))]
        if let image = Self.image(of: request.release) {
            progress("Setting the Railway service's source image to \(image)…")
            _ = try await railway.run(
                """
                mutation SetImage($serviceId: String!, $environmentId: String, $input: ServiceInstanceUpdateInput!) {
                  serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: $input)
                }
                """,
                variables: .object([
                    ("serviceId", .string(ids.service)), ("environmentId", .string(ids.environment)),
                    ("input", .object([("source", .object([("image", .string(image))]))])),
                ]))
        } else if let commit = request.release.commit {
            variables.append(("commitSha", .string(commit)))
        } else {
            throw ProviderError(
                .configuration,
                "Release \(request.release.version) has neither an image artifact nor a commit: Railway needs "
                    + "one of them (`release create --commit SHA` or `--artifact registry/image:tag`).")
        }
        progress("Deploying \(request.release.version) to Railway service \(ids.service)…")
        let data = try await railway.run(
            """
            mutation Deploy($environmentId: String!, $serviceId: String!, $commitSha: String) {
              serviceInstanceDeployV2(environmentId: $environmentId, serviceId: $serviceId, commitSha: $commitSha)
            }
            """, variables: .object(variables))
        guard let deployment = data["serviceInstanceDeployV2"]?.stringValue else {
            throw ProviderError(.unreachable, "Railway did not return a deployment id for serviceInstanceDeployV2.")
        }
        try await record(.object([("deployment", .string(deployment))]))
        return try await follow(deployment, railway)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        guard let target = request.targetReference?["deployment"]?.stringValue else {
            return try await deploy(request, record: record)
        }
        let railway = client
        let before = try await newestDeployment(railway)
        progress("Rolling Railway service \(configuration.service) back to deployment \(target)…")
        _ = try await railway.run(
            """
            mutation Rollback($id: String!) { deploymentRollback(id: $id) }
            """, variables: .object([("id", .string(target))]))
        // The rollback creates a new deployment: find it, record it, follow it.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(60))
        while clock.now < deadline {
            if let newest = try await newestDeployment(railway), newest != before {
                try await record(.object([("deployment", .string(newest)), ("rollback_of", .string(target))]))
                return try await follow(newest, railway)
            }
            try await Task.sleep(for: configuration.pollInterval.duration)
        }
        throw ProviderError(.failed, "Railway accepted the rollback to \(target) but no new deployment appeared within a minute.")
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        if let deployment = operation["deployment"]?.stringValue {
            progress("Following Railway deployment \(deployment) that the previous run started…")
            return try await follow(deployment, client)
        }
        return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
    }

    /// An artifact that names a container image (not a URL, not empty).
    static func image(of release: ReleaseRecord) -> String? {
        guard let artifact = release.artifact, !artifact.isEmpty, !artifact.contains("://") else { return nil }
        return artifact
    }

    private func newestDeployment(_ railway: GraphQLClient) async throws -> String? {
        let data = try await railway.run(
            """
            query Newest($input: DeploymentListInput!) {
              deployments(input: $input, first: 1) { edges { node { id status createdAt } } }
            }
            """,
            variables: .object([
                (
                    "input",
                    .object([
                        ("projectId", .string(configuration.project)), ("environmentId", .string(configuration.environment)),
                        ("serviceId", .string(configuration.service)),
                    ])
                )
            ]), idempotent: true)
        return data["deployments"]?["edges"]?.arrayValue?.first?["node"]?["id"]?.stringValue
    }

    /// A deployment that ended `status`, and what the service serves now, as Railway says. A new
    /// deployment takes the traffic as soon as it starts unless a healthcheck holds it back, and
    /// the previous one is then taken down: if none is SUCCESS any more, the release went live and
    /// failed (quarantine and the automatic rollback follow); if one still is, nothing changed.
    private func failed(_ deployment: String, status: String, _ railway: GraphQLClient) async throws -> ProviderError {
        let ended = "Railway deployment \(deployment) ended \(status); see its logs with `railway logs --deployment \(deployment)`."
        let data = try await railway.run(
            """
            query Serving($input: DeploymentListInput!) {
              deployments(input: $input, first: 1) { edges { node { id status } } }
            }
            """,
            variables: .object([
                (
                    "input",
                    .object([
                        ("projectId", .string(configuration.project)), ("environmentId", .string(configuration.environment)),
                        ("serviceId", .string(configuration.service)), ("status", .object([("in", .array([.string("SUCCESS")]))])),
                    ])
                )
            ]), idempotent: true)
        guard let serving = data["deployments"]?["edges"]?.arrayValue?.first?["node"]?["id"]?.stringValue, serving != deployment else {
            return ProviderError(
                .failed, "\(ended) No deployment of the service is SUCCESS any more: it took the traffic, then failed.",
                serving: .failedRelease)
        }
        return ProviderError(.failed, ended, serving: .unchanged(observed: "Railway deployment \(serving) is still SUCCESS"))
    }

    private func follow(_ deployment: String, _ railway: GraphQLClient) async throws -> DeploymentOutcome {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.timeout.duration)
        var malformed = 0
        var last = ""
        while true {
            do {
                let data = try await railway.run(
                    """
                    query Follow($id: String!) { deployment(id: $id) { id status staticUrl } }
                    """, variables: .object([("id", .string(deployment))]), idempotent: true)
                malformed = 0
                let status = data["deployment"]?["status"]?.stringValue ?? ""
                if status != last {
                    progress("Railway deployment \(deployment): \(status)")
                    last = status
                }
                if status == "SUCCESS" {
                    return DeploymentOutcome(
                        liveReference: .object([
                            ("deployment", .string(deployment)), ("service", .string(configuration.service)),
                            ("environment", .string(configuration.environment)),
                        ]),
                        summary: "Railway deployment \(deployment)")
                }
                if Self.failures.contains(status) {
                    throw try await failed(deployment, status: status, railway)
                }
            } catch let error as GraphQLClient.MalformedAnswer {
                malformed += 1
                if malformed >= 5 { throw ProviderError(.unreachable, error.description) }
            }
            if clock.now >= deadline {
                throw ProviderError(
                    .failed,
                    "Railway deployment \(deployment) did not finish within \(configuration.timeout) (last status "
                        + "\(last.isEmpty ? "unknown" : last)).")
            }
            try await Task.sleep(for: configuration.pollInterval.duration)
        }
    }
}
