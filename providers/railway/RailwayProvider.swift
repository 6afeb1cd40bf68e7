import Foundation
import ProviderKit
import ReleaseCore

/// Deploys to Railway through its public GraphQL API: an image artifact is set as the service
/// instance's source and deployed, anything else deploys the release's commit; the deployment is
/// followed to SUCCESS or a failure, and a rollback re-deploys a recorded deployment.
public struct RailwayProvider: PlatformProvider {
    /// The provider's name in release.yml.
    public static let providerName = "railway"

    /// The `railway:` block of an environment.
    public struct Configuration: ProviderBlock, Equatable {
        /// The project id.
        public var project: String
        /// The Railway environment id.
        public var environment: String
        /// The service id.
        public var service: String
        /// `api_url`, the GraphQL endpoint (default https://backboard.railway.com/graphql/v2),
        /// `poll_interval` for a deployment (default 2s), `timeout` for one (default 30m).
        public var settings: ProviderSettings

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let (entries, settings) = try ProviderSettings.read(
                reader, keys: ["project", "environment", "service"], pollInterval: .seconds(2), timeout: .minutes(30))
            project = try entries.required("project", "the Railway project id").string()
            environment = try entries.required("environment", "the Railway environment id").string()
            service = try entries.required("service", "the Railway service id").string()
            self.settings = settings
        }
    }

    /// Statuses after which a deployment will not change, other than SUCCESS.
    static let failures: Set<String> = ["FAILED", "CRASHED", "REMOVED", "SKIPPED"]
    /// The variable of a project token, which travels in its own header; an account or workspace
    /// token (RAILWAY_API_TOKEN, preferred) is a Bearer token.
    static let projectToken = "RAILWAY_TOKEN"

    let configuration: Configuration
    /// The token, from the process environment.
    public let credentials: APICredential
    let railway: GraphQLClient
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        credentials = APICredential(
            "RAILWAY_API_TOKEN", Self.projectToken, in: environment,
            advice: "an account or workspace token as RAILWAY_API_TOKEN, or a project token as \(Self.projectToken)")
        let authorization =
            credentials.variable == Self.projectToken ? ("Project-Access-Token", credentials.token ?? "") : credentials.bearer
        let api = APIClient.Configuration(
            baseURL: configuration.settings.baseURL(
                overriddenBy: ["RAILWAY_API_URL"], in: environment, platform: "https://backboard.railway.com/graphql/v2"),
            headers: [("Accept", "application/json"), authorization], platform: "Railway")
        let errors = APIErrors(
            token: credentials, hint: " with access to this project", forbiddenAdvice: { _ in "Use a token with access to this project." },
            lookupKeys: Self.blockKeys("api_url"), read: GraphQLClient.read)
        railway = GraphQLClient(api: PlatformAPI(api, errors: errors))
        self.progress = progress
    }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
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
        return try await follow(deployment)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        guard let target = request.targetReference?["deployment"]?.stringValue else {
            return try await deploy(request, record: record)
        }
        let before = try await newestDeployment()
        progress("Rolling Railway service \(configuration.service) back to deployment \(target)…")
        _ = try await railway.run(
            """
            mutation Rollback($id: String!) { deploymentRollback(id: $id) }
            """, variables: .object([("id", .string(target))]))
        // The rollback creates a new deployment: find it, record it, follow it.
        let newest = try await Poller(interval: configuration.settings.pollInterval, timeout: .seconds(60)).wait {
            try await newestDeployment()
        } until: { newest in
            newest != before ? newest : nil
        } expired: { _ in
            throw ProviderError(.failed, "Railway accepted the rollback to \(target) but no new deployment appeared within a minute.")
        }
        try await record(.object([("deployment", .string(newest)), ("rollback_of", .string(target))]))
        return try await follow(newest)
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        if let deployment = operation["deployment"]?.stringValue {
            progress("Following Railway deployment \(deployment) that the previous run started…")
            return try await follow(deployment)
        }
        return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
    }

    /// An artifact that names a container image (not a URL, not empty).
    static func image(of release: ReleaseRecord) -> String? {
        guard let artifact = release.artifact, !artifact.isEmpty, !artifact.contains("://") else { return nil }
        return artifact
    }

    private func newestDeployment() async throws -> String? {
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
    private func failed(_ deployment: String, status: String) async throws -> ProviderError {
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

    private func follow(_ deployment: String) async throws -> DeploymentOutcome {
        let subject = "Railway deployment \(deployment)"
        let poller = configuration.settings.poller(progress: progress)
        return try await poller.wait {
            let data = try await railway.run(
                """
                query Follow($id: String!) { deployment(id: $id) { id status staticUrl } }
                """, variables: .object([("id", .string(deployment))]), idempotent: true)
            return data["deployment"]?["status"]?.stringValue ?? "unknown"
        } report: { status in
            "\(subject): \(status)"
        } until: { status in
            if Self.failures.contains(status) { throw try await failed(deployment, status: status) }
            guard status == "SUCCESS" else { return nil }
            return DeploymentOutcome(
                liveReference: .object([
                    ("deployment", .string(deployment)), ("service", .string(configuration.service)),
                    ("environment", .string(configuration.environment)),
                ]),
                summary: subject)
        } expired: { last in
            throw poller.notFinished(subject, last: "status \(last ?? "unknown")")
        }
    }
}
