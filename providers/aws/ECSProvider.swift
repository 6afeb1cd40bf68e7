import Foundation
import ProviderKit
import ReleaseCore

/// Deploys a container image to an Amazon ECS service: registers a new revision of the service's
/// task definition with the configured container's image set to the artifact, points the service
/// at it with `UpdateService`, and waits until the service is stable. Rolls back by pointing the
/// service at the task definition recorded when the older release went live.
public struct ECSProvider: PlatformProvider {
    /// The provider's name in release.yml.
    public static let providerName = "aws-ecs"

    /// The `aws-ecs:` block of an environment.
    public struct Configuration: ProviderBlock, Equatable {
        /// The region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
        public var region: String?
        /// The cluster's name or ARN.
        public var cluster: String
        /// The service's name or ARN.
        public var service: String
        /// The container whose image is the artifact.
        public var container: String
        /// `api_url`, `poll_interval` while the service rolls out (default 5s), `timeout` for a
        /// rollout (default 30m).
        public var settings: ProviderSettings

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let (entries, settings) = try ProviderSettings.read(
                reader, keys: ["region", "cluster", "service", "container"], pollInterval: .seconds(5), timeout: .minutes(30))
            region = try entries["region"]?.string()
            cluster = try entries.required("cluster", "the ECS cluster's name").string()
            service = try entries.required("service", "the ECS service's name").string()
            container = try entries.required("container", "the name of the container in the task definition whose image is deployed").string()
            self.settings = settings
        }
    }

    static let target = "AmazonEC2ContainerServiceV20141113"
    /// The fields of a task definition that RegisterTaskDefinition takes back.
    static let registrable = [
        "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
        "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
        "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform", "enableFaultInjection",
    ]

    let configuration: Configuration
    /// Credentials and region, from the block and the process environment.
    public let credentials: AWSAccess
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        credentials = AWSAccess(.ecs, environment: environment, region: configuration.region, block: Self.providerName)
        self.progress = progress
    }

    /// The keys to check when ECS does not know the service.
    static let lookupKeys = blockKeys("cluster", "service", "region")

    func client() throws -> AWSClient {
        try credentials.client(settings: configuration.settings, lookupKeys: Self.lookupKeys)
    }

    private var name: String { "service \(configuration.service) in cluster \(configuration.cluster)" }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        let ecs = try client()
        let service = try await describeService(ecs)
        if let controller = service["deploymentController"]?["type"]?.stringValue, controller != "ECS" {
            throw ProviderError(
                .configuration,
                "ECS \(name) uses the \(controller) deployment controller; release can only update services "
                    + "that use the ECS (rolling) controller.")
        }
        guard let current = service["taskDefinition"]?.stringValue else {
            throw ProviderError(.unreachable, "ECS described \(name) without a task definition.")
        }
        let described = try await ecs.jsonRPC(
            Self.target, "DescribeTaskDefinition",
            .object([("taskDefinition", .string(current)), ("include", .array([.string("TAGS")]))]), retryable: true)
        guard case let .object(definition)? = described["taskDefinition"] else {
            throw ProviderError(.unreachable, "ECS returned no task definition for \(current).")
        }
        let (input, image, unchanged) = try Self.registration(
            from: definition, tags: described["tags"], container: configuration.container,
            artifact: request.release.artifact, version: request.release.version)
        let taskDefinition: String
        if unchanged {
            taskDefinition = current
            progress("ECS \(name) already uses \(image) (\(Self.shortName(current))).")
        } else {
            let registered = try await ecs.jsonRPC(Self.target, "RegisterTaskDefinition", .object(input), retryable: false)
            guard let arn = registered["taskDefinition"]?["taskDefinitionArn"]?.stringValue else {
                throw ProviderError(.unreachable, "ECS registered a task definition but did not say its ARN.")
            }
            taskDefinition = arn
            progress("Registered \(Self.shortName(arn)) with \(configuration.container) = \(image).")
        }
        try await record(.object([("task_definition", .string(taskDefinition)), ("previous_task_definition", .string(current))]))
        return try await update(ecs, to: taskDefinition, rollback: false)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        guard let target = request.targetReference?["task_definition"]?.stringValue else {
            return try await deploy(request, record: record)
        }
        let ecs = try client()
        try await record(.object([("task_definition", .string(target)), ("rollback", .bool(true))]))
        progress("Rolling ECS \(name) back to \(Self.shortName(target))…")
        return try await update(ecs, to: target, rollback: true)
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        guard let target = operation["task_definition"]?.stringValue else {
            return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
        }
        let ecs = try client()
        progress("Following ECS \(name) towards \(Self.shortName(target)), which the previous run started…")
        return try await update(ecs, to: target, rollback: operation["rollback"] == .bool(true))
    }

    /// Points the service at `taskDefinition` (unless it already is) and waits until it is stable.
    private func update(_ ecs: AWSClient, to taskDefinition: String, rollback: Bool) async throws -> DeploymentOutcome {
        let service = try await describeService(ecs)
        if service["taskDefinition"]?.stringValue != taskDefinition {
            _ = try await ecs.jsonRPC(
                Self.target, "UpdateService",
                .object([
                    ("cluster", .string(configuration.cluster)), ("service", .string(configuration.service)),
                    ("taskDefinition", .string(taskDefinition)),
                ]), retryable: true)
            progress("Updated ECS \(name) to \(Self.shortName(taskDefinition)); waiting for the rollout…")
        }
        try await waitUntilStable(ecs, taskDefinition: taskDefinition)
        return DeploymentOutcome(
            liveReference: .object([
                ("task_definition", .string(taskDefinition)), ("cluster", .string(configuration.cluster)),
                ("service", .string(configuration.service)),
            ]),
            summary: "ECS \(Self.shortName(taskDefinition))")
    }

    private func describeService(_ ecs: AWSClient) async throws -> JSONValue {
        let answer = try await ecs.jsonRPC(
            Self.target, "DescribeServices",
            .object([
                ("cluster", .string(configuration.cluster)), ("services", .array([.string(configuration.service)])),
            ]), retryable: true)
        if let service = answer["services"]?.arrayValue?.first, service["status"]?.stringValue != "INACTIVE" {
            return service
        }
        let reason = answer["failures"]?.arrayValue?.first?["reason"]?.stringValue ?? "INACTIVE"
        throw ProviderError(
            .configuration,
            "ECS has no active \(name) in \(ecs.region) (\(reason)). Check \(Self.lookupKeys) in release.yml.")
    }

    /// Stable: the service uses our task definition, has one deployment, PRIMARY, its rollout
    /// COMPLETED and as many tasks running as desired. FAILED, someone else's task definition or
    /// the deadline end the wait with a failure the engine answers with its rollback.
    private func waitUntilStable(_ ecs: AWSClient, taskDefinition: String) async throws {
        let wanted = Self.shortName(taskDefinition)
        try await configuration.settings.poller(progress: progress).wait {
            Self.rollout(of: try await describeService(ecs), expecting: taskDefinition)
        } report: { state in
            "ECS \(configuration.service): \(state.description)"
        } until: { state in
            switch state {
            case .stable:
                return ()
            case let .failed(reason):
                throw ProviderError(.failed, "The ECS rollout of \(wanted) on \(name) failed: \(reason).", serving: .failedRelease)
            case let .replaced(other):
                throw ProviderError(
                    .failed,
                    "ECS \(name) now uses \(Self.shortName(other)) instead of \(wanted) (its "
                        + "deployment circuit breaker may have rolled back, or someone else deployed).", serving: .failedRelease)
            case .inProgress:
                return nil
            }
        } expired: { last in
            throw ProviderError(
                .failed,
                "ECS \(name) did not become stable on \(wanted) within \(configuration.settings.timeout) (last: "
                    + "\(last?.description ?? "unknown")).", serving: .failedRelease)
        }
    }

    enum Rollout: Equatable, CustomStringConvertible {
        case stable
        case inProgress(String)
        case failed(String)
        case replaced(String)

        var description: String {
            switch self {
            case .stable: "rollout completed, all tasks running"
            case let .inProgress(detail): detail
            case let .failed(reason): "rollout FAILED: \(reason)"
            case let .replaced(other): "now on \(other)"
            }
        }
    }

    /// Where a described service stands with respect to `taskDefinition`.
    static func rollout(of service: JSONValue, expecting taskDefinition: String) -> Rollout {
        if let current = service["taskDefinition"]?.stringValue, current != taskDefinition { return .replaced(current) }
        let deployments = service["deployments"]?.arrayValue ?? []
        let primary = deployments.first { $0["status"]?.stringValue == "PRIMARY" }
        if let primary, primary["rolloutState"]?.stringValue == "FAILED" {
            let reason = primary["rolloutStateReason"]?.stringValue ?? "no reason given"
            return .failed(reason)
        }
        let desired = primary?["desiredCount"]?.intValue ?? service["desiredCount"]?.intValue ?? 0
        let running = primary?["runningCount"]?.intValue ?? service["runningCount"]?.intValue ?? 0
        let rollout = primary?["rolloutState"]?.stringValue
        let detail =
            "\(deployments.count) deployment\(deployments.count == 1 ? "" : "s"), rollout \(rollout ?? "unknown"), \(running) of "
            + "\(desired) tasks running"
        guard primary != nil, deployments.count == 1, rollout == nil || rollout == "COMPLETED", running == desired else {
            return .inProgress(detail)
        }
        return .stable
    }

    /// The RegisterTaskDefinition input for a new revision with the container's image set; `unchanged`
    /// when the container already has that image.
    static func registration(
        from definition: [(String, JSONValue)], tags: JSONValue?, container: String, artifact: String?,
        version: String
    ) throws -> (input: [(String, JSONValue)], image: String, unchanged: Bool) {
        var input = definition.filter { registrable.contains($0.0) }
        guard let index = input.firstIndex(where: { $0.0 == "containerDefinitions" }), case var .array(containers) = input[index].1 else {
            throw ProviderError(.unreachable, "ECS returned a task definition without container definitions.")
        }
        let names = containers.compactMap { $0["name"]?.stringValue }
        guard let position = containers.firstIndex(where: { $0["name"]?.stringValue == container }),
            case var .object(fields) = containers[position]
        else {
            throw ProviderError(
                .configuration,
                "The task definition has no container named '\(container)' (it has "
                    + "\(names.joined(separator: ", "))). Fix `aws-ecs.container` in release.yml.")
        }
        let existing = containers[position]["image"]?.stringValue
        let image = try Self.image(artifact: artifact, existing: existing, version: version)
        if image == existing { return (input, image, true) }
        if let at = fields.firstIndex(where: { $0.0 == "image" }) { fields[at].1 = .string(image) } else { fields.append(("image", .string(image))) }
        containers[position] = .object(fields)
        input[index].1 = .array(containers)
        if let tags = tags?.arrayValue, !tags.isEmpty { input.append(("tags", .array(tags))) }
        return (input, image, false)
    }

    /// The image to run: the artifact as given, or `sha256:…` pinned on the repository the
    /// container already uses.
    static func image(artifact: String?, existing: String?, version: String) throws -> String {
        guard let artifact, !artifact.isEmpty, !artifact.contains("://") else {
            let what = artifact.map { "'\($0)', which is not a container image" } ?? "no artifact"
            throw ProviderError(
                .configuration,
                "Release \(version) has \(what); aws-ecs deploys container images. Create the release with "
                    + "--artifact REGISTRY/REPOSITORY:TAG or REPOSITORY@sha256:DIGEST.")
        }
        guard artifact.hasPrefix("sha256:") else { return artifact }
        guard let existing, !existing.isEmpty else {
            throw ProviderError(
                .configuration,
                "Release \(version) names only a digest (\(artifact)), and the container has no image to take "
                    + "the repository from. Use REPOSITORY@\(artifact) as the artifact.")
        }
        var repository = existing
        if let at = repository.firstIndex(of: "@") {
            repository = String(repository[..<at])
        } else if let colon = repository.lastIndex(of: ":"), repository.lastIndex(of: "/").map({ colon > $0 }) ?? true {
            repository = String(repository[..<colon])
        }
        return "\(repository)@\(artifact)"
    }

    /// `crm-api:7` from a task definition ARN.
    static func shortName(_ arn: String) -> String {
        arn.split(separator: "/").last.map(String.init) ?? arn
    }
}
