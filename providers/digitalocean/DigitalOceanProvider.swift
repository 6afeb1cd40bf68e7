import Foundation
import NIOHTTP1
import ProviderKit
import ReleaseCore

/// Deploys to DigitalOcean App Platform: sets the component's image tag or digest in the app spec
/// and follows the deployment that starts (or forces a build without an image); rolls back to a
/// recorded deployment after validating it, then commits the rollback once verified, or reverts it.
public struct DigitalOceanProvider: RegistrableProvider {
    /// The provider's name in release.yml.
    public static let providerName = "digitalocean"

    /// The `digitalocean:` block of an environment.
    public struct Configuration: Sendable, Equatable {
        /// The app's id.
        public var app: String
        /// The component (service) whose image is set.
        public var component: String
        /// The API base URL (default https://api.digitalocean.com).
        public var apiURL: String?
        /// How often to poll a deployment (default 3s).
        public var pollInterval: TimeSpan
        /// How long a deployment may take (default 30m).
        public var timeout: TimeSpan

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let entries = try reader.mapping(allowed: ["app", "component", "api_url", "poll_interval", "timeout"])
            app = try entries.required("app", "the App Platform app id").string()
            component = try entries.required("component", "the name of the service whose image is deployed").string()
            apiURL = try entries["api_url"]?.string()
            pollInterval = try entries["poll_interval"]?.timeSpan() ?? .seconds(3)
            timeout = try entries["timeout"]?.timeSpan() ?? .minutes(30)
        }
    }

    static let failures: Set<String> = ["ERROR", "CANCELED", "SUPERSEDED"]

    let configuration: Configuration
    let token: String?
    let baseURL: String
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        token = environment.secret("DIGITALOCEAN_ACCESS_TOKEN")
        baseURL = environment.nonEmpty("DIGITALOCEAN_API_URL") ?? configuration.apiURL ?? "https://api.digitalocean.com"
        self.progress = progress
    }

    /// Builds the provider from its release.yml block.
    public init(block: ConfigReader, context: ProviderRegistry.ProviderContext) throws {
        self.init(configuration: try Configuration(reader: block), environment: context.environment, progress: context.output)
    }

    /// A missing token is a configuration error before any work starts.
    public func preflight() throws {
        guard token != nil else {
            throw ReleaseError.usage(
                "DIGITALOCEAN_ACCESS_TOKEN is not set. Export a DigitalOcean API token with write access to the app and "
                    + "try again.")
        }
    }

    var api: APIClient {
        APIClient(
            configuration: .init(
                baseURL: baseURL,
                headers: [
                    ("Authorization", "Bearer \(token ?? "")"), ("Accept", "application/json"),
                    ("User-Agent", "release/\(ReleaseInfo.version)"),
                ],
                platform: "DigitalOcean"))
    }

    private var appPath: String { "/v2/apps/\(configuration.app)" }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        let deployment: String
        if let image = ImageReference(artifact: request.release.artifact) {
            let app = try await call(.GET, appPath)
            guard case var .object(spec)? = app["app"]?["spec"] else {
                throw ProviderError(
                    .unreachable,
                    "DigitalOcean returned an app without "
                        + "a spec.")
            }
            spec = try Self.setting(image, on: configuration.component, in: spec, app: configuration.app)
            progress("Setting \(configuration.component)'s image to \(image.description) in app \(configuration.app)…")
            let updated = try await call(.PUT, appPath, json: .object([("spec", .object(spec))]))
            if let id = updated["app"]?["in_progress_deployment"]?["id"]?.stringValue ?? updated["app"]?["pending_deployment"]?["id"]?.stringValue {
                deployment = id
            } else {
                deployment = try await newestDeployment()
            }
        } else {
            progress("Deploying app \(configuration.app) with a fresh build (the release names no image)…")
            let created = try await call(.POST, "\(appPath)/deployments", json: .object([("force_build", .bool(true))]))
            guard let id = created["deployment"]?["id"]?.stringValue else {
                throw ProviderError(.unreachable, "DigitalOcean did not return the deployment it started.")
            }
            deployment = id
        }
        try await record(.object([("deployment", .string(deployment))]))
        return try await follow(deployment, rollback: false)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        guard let target = request.targetReference?["deployment"]?.stringValue else {
            return try await deploy(request, record: record)
        }
        let body = JSONValue.object([("deployment_id", .string(target)), ("skip_pin", .bool(false))])
        let validation = try await call(.POST, "\(appPath)/rollback/validate", json: body)
        for warning in validation["warnings"]?.arrayValue ?? [] {
            progress("DigitalOcean warns: \(warning["message"]?.stringValue ?? warning.text)")
        }
        guard validation["valid"] == .bool(true) else {
            let reason = validation["error"]?["message"]?.stringValue ?? validation["error"]?.text ?? "no reason given"
            throw ProviderError(.failed, "DigitalOcean refused to roll app \(configuration.app) back to deployment \(target): \(reason).")
        }
        progress("Rolling app \(configuration.app) back to deployment \(target)…")
        let created = try await call(.POST, "\(appPath)/rollback", json: body)
        guard let id = created["deployment"]?["id"]?.stringValue else {
            throw ProviderError(.unreachable, "DigitalOcean did not return the rollback deployment.")
        }
        try await record(.object([("deployment", .string(id)), ("rollback_to", .string(target)), ("pinned", .bool(true))]))
        return try await follow(id, rollback: true)
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        if let deployment = operation["deployment"]?.stringValue {
            progress("Following DigitalOcean deployment \(deployment) that the previous run started…")
            return try await follow(deployment, rollback: operation["pinned"] == .bool(true))
        }
        return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
    }

    /// A verified rollback is committed so the app is not left pinned; a failed one is reverted.
    public func settle(_ request: DeploymentRequest, outcome: JSONValue, healthy: Bool) async throws {
        guard outcome["pinned"] == .bool(true) else { return }
        try preflight()
        if healthy {
            _ = try await call(.POST, "\(appPath)/rollback/commit")
            progress("Committed the rollback of app \(configuration.app): it is no longer pinned.")
        } else {
            _ = try await call(.POST, "\(appPath)/rollback/revert")
            progress("Reverted the failed rollback of app \(configuration.app).")
        }
    }

    private func newestDeployment() async throws -> String {
        let list = try await call(.GET, "\(appPath)/deployments?page=1&per_page=1")
        guard let id = list["deployments"]?.arrayValue?.first?["id"]?.stringValue else {
            throw ProviderError(.failed, "DigitalOcean accepted the new spec of app \(configuration.app) but started no deployment.")
        }
        return id
    }

    /// What the app serves after `deployment` failed, as DigitalOcean says: a failed deployment
    /// never becomes the active one, which stays what it was.
    private func serving(instead deployment: String) async throws -> ProviderError.Serving {
        let app = try await call(.GET, appPath)
        guard let active = app["app"]?["active_deployment"]?["id"]?.stringValue else {
            return .unknown
        }
        return active == deployment ? .failedRelease : .unchanged(observed: "DigitalOcean's active deployment is still \(active)")
    }

    private func follow(_ deployment: String, rollback: Bool) async throws -> DeploymentOutcome {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.timeout.duration)
        var last = ""
        var malformed = 0
        while true {
            do {
                let answer = try await call(.GET, "\(appPath)/deployments/\(deployment)")
                malformed = 0
                let phase = answer["deployment"]?["phase"]?.stringValue ?? ""
                if phase != last {
                    progress("DigitalOcean deployment \(deployment): \(phase)")
                    last = phase
                }
                if phase == "ACTIVE" {
                    var reference: [(String, JSONValue)] = [("deployment", .string(deployment)), ("app", .string(configuration.app))]
                    if rollback { reference.append(("pinned", .bool(true))) }
                    return DeploymentOutcome(liveReference: .object(reference), summary: "DigitalOcean deployment \(deployment)")
                }
                if Self.failures.contains(phase) {
                    let ended = "DigitalOcean deployment \(deployment) ended \(phase)\(Self.failingStep(answer["deployment"])))."
                    throw ProviderError(.failed, ended, serving: try await serving(instead: deployment))
                }
            } catch is MalformedAnswer {
                malformed += 1
                if malformed >= 5 { throw ProviderError(.unreachable, "DigitalOcean kept answering with malformed JSON.") }
            }
            if clock.now >= deadline {
                throw ProviderError(
                    .failed,
                    "DigitalOcean deployment \(deployment) did not finish within \(configuration.timeout) (last phase "
                        + "\(last.isEmpty ? "unknown" : last)).")
            }
            try await Task.sleep(for: configuration.pollInterval.duration)
        }
    }

    /// ": step build failed: <reason>" from the deployment's progress, if any step failed.
    static func failingStep(_ deployment: JSONValue?) -> String {
        func failing(_ steps: [JSONValue]) -> JSONValue? {
            for step in steps {
                if let nested = step["steps"]?.arrayValue, let found = failing(nested) { return found }
                if step["status"]?.stringValue == "ERROR" { return step }
            }
            return nil
        }
        guard let steps = deployment?["progress"]?["steps"]?.arrayValue, let step = failing(steps) else { return "" }
        let name = step["name"]?.stringValue ?? "a step"
        let reason = step["reason"]?["message"]?.stringValue ?? step["reason"]?["code"]?.stringValue ?? "no reason given"
        return ": step \(name) failed: \(reason)"
    }

    struct MalformedAnswer: Error {}

    private func call(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil) async throws -> JSONValue {
        do {
            let response = try await api.send(method, path, json: json)
            if response.body.isEmpty { return .object([]) }
            guard let body = response.json else {
                if method == .GET { throw MalformedAnswer() }
                throw ProviderError(
                    .unreachable,
                    "DigitalOcean answered \(method.rawValue) \(path) with malformed JSON; it may have acted, so "
                        + "check the app before retrying.")
            }
            return body
        } catch let error as APIClient.StatusError {
            let id = error.body?["id"]?.stringValue
            let message = error.body?["message"]?.stringValue ?? error.text
            let says = "\(id.map { "\($0): " } ?? "")\(message)"
            switch error.status {
            case 401:
                throw ProviderError(.configuration, "DigitalOcean rejected DIGITALOCEAN_ACCESS_TOKEN (HTTP 401, \(says)). Set it to a valid token.")
            case 403:
                throw ProviderError(
                    .configuration,
                    "DIGITALOCEAN_ACCESS_TOKEN may not change app \(configuration.app) (HTTP 403, \(says)). Use "
                        + "a token with write scope.")
            case 404:
                throw ProviderError(
                    .configuration,
                    "DigitalOcean does not know \(error.request) (HTTP 404, \(says)). Check \(Self.blockKeys("app")) "
                        + "in release.yml.")
            case 429, 500...599:
                throw ProviderError(.unreachable, "DigitalOcean kept failing \(error.request) (HTTP \(error.status), \(says)).")
            default:
                throw ProviderError(.failed, "DigitalOcean refused \(error.request) (HTTP \(error.status), \(says)).")
            }
        }
    }

    /// The spec with the component's image set; an error naming the components when it is missing.
    static func setting(_ image: ImageReference, on component: String, in spec: [(String, JSONValue)], app: String) throws -> [(String, JSONValue)] {
        var spec = spec
        var names: [String] = []
        for kind in ["services", "workers", "jobs"] {
            guard let index = spec.firstIndex(where: { $0.0 == kind }), case var .array(components) = spec[index].1 else { continue }
            for (position, item) in components.enumerated() {
                guard case var .object(fields) = item else { continue }
                let name = item["name"]?.stringValue ?? ""
                names.append(name)
                guard name == component else { continue }
                var source: [(String, JSONValue)] = []
                if case let .object(existing)? = item["image"] { source = existing }
                source.removeAll { $0.0 == "tag" || $0.0 == "digest" }
                if let repository = image.repository, !source.contains(where: { $0.0 == "repository" }) {
                    source.append(("repository", .string(repository)))
                }
                if let digest = image.digest { source.append(("digest", .string(digest))) }
                if let tag = image.tag { source.append(("tag", .string(tag))) }
                if let at = fields.firstIndex(where: { $0.0 == "image" }) {
                    fields[at].1 = .object(source)
                } else {
                    fields.append(("image", .object(source)))
                }
                components[position] = .object(fields)
                spec[index].1 = .array(components)
                return spec
            }
        }
        throw ProviderError(
            .configuration,
            "App \(app) has no service, worker or job named '\(component)' (it has "
                + "\(names.isEmpty ? "none" : names.joined(separator: ", "))). Fix \(blockKeys("component")) in release.yml.")
    }
}

/// An image artifact: `registry/repo:tag`, `repo@sha256:…`, `sha256:…`, or a bare tag.
struct ImageReference: Sendable, CustomStringConvertible {
    var repository: String?
    var tag: String?
    var digest: String?

    init?(artifact: String?) {
        guard let artifact, !artifact.isEmpty, !artifact.contains("://") else { return nil }
        if artifact.hasPrefix("sha256:") {
            digest = artifact
            return
        }
        if let at = artifact.range(of: "@sha256:") {
            repository = String(artifact[..<at.lowerBound])
            digest = String(artifact[artifact.index(after: at.lowerBound)...])
            return
        }
        let lastSlash = artifact.lastIndex(of: "/")
        if let colon = artifact.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            repository = String(artifact[..<colon])
            tag = String(artifact[artifact.index(after: colon)...])
        } else {
            tag = artifact
        }
    }

    var description: String { digest ?? tag ?? "?" }
}
