import Foundation
import NIOHTTP1
import ProviderKit
import ReleaseCore

/// Deploys to DigitalOcean App Platform: sets the component's image tag or digest in the app spec
/// and follows the deployment that starts (or forces a build without an image); rolls back to a
/// recorded deployment after validating it, then commits the rollback once verified, or reverts it.
public struct DigitalOceanProvider: PlatformProvider {
    /// The provider's name in release.yml.
    public static let providerName = "digitalocean"

    /// The `digitalocean:` block of an environment.
    public struct Configuration: ProviderBlock, Equatable {
        /// The app's id.
        public var app: String
        /// The component (service) whose image is set.
        public var component: String
        /// `api_url` (default https://api.digitalocean.com), `poll_interval` for a deployment
        /// (default 3s), `timeout` for one (default 30m).
        public var settings: ProviderSettings

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let (entries, settings) = try ProviderSettings.read(
                reader, keys: ["app", "component"], pollInterval: .seconds(3), timeout: .minutes(30))
            app = try entries.required("app", "the App Platform app id").string()
            component = try entries.required("component", "the name of the service whose image is deployed").string()
            self.settings = settings
        }
    }

    static let failures: Set<String> = ["ERROR", "CANCELED", "SUPERSEDED"]

    let configuration: Configuration
    /// The token, from the process environment.
    public let credentials: APICredential
    let api: PlatformAPI
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        credentials = APICredential(
            "DIGITALOCEAN_ACCESS_TOKEN", in: environment, advice: "a DigitalOcean API token with write access to the app and try again")
        let api = APIClient.Configuration(
            baseURL: configuration.settings.baseURL(
                overriddenBy: ["DIGITALOCEAN_API_URL"], in: environment, platform: "https://api.digitalocean.com"),
            headers: [credentials.bearer, ("Accept", "application/json")], platform: "DigitalOcean")
        let errors = APIErrors(token: credentials, forbiddenAdvice: { _ in "Use a token with write scope." }, lookupKeys: Self.blockKeys("app"))
        self.api = PlatformAPI(api, errors: errors)
        self.progress = progress
    }

    private var appPath: String { "/v2/apps/\(configuration.app)" }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        let deployment: String
        if let image = ImageReference(artifact: request.release.artifact) {
            let app = try await api.call(.GET, appPath)
            guard case var .object(spec)? = app["app"]?["spec"] else {
                throw ProviderError(
                    .unreachable,
                    "DigitalOcean returned an app without "
                        + "a spec.")
            }
            spec = try Self.setting(image, on: configuration.component, in: spec, app: configuration.app)
            progress("Setting \(configuration.component)'s image to \(image.description) in app \(configuration.app)…")
            let updated = try await api.call(.PUT, appPath, json: .object([("spec", .object(spec))]))
            if let id = updated["app"]?["in_progress_deployment"]?["id"]?.stringValue ?? updated["app"]?["pending_deployment"]?["id"]?.stringValue {
                deployment = id
            } else {
                deployment = try await newestDeployment()
            }
        } else {
            progress("Deploying app \(configuration.app) with a fresh build (the release names no image)…")
            let created = try await api.call(.POST, "\(appPath)/deployments", json: .object([("force_build", .bool(true))]))
            guard let id = created["deployment"]?["id"]?.stringValue else {
                throw ProviderError(.unreachable, "DigitalOcean did not return the deployment it started.")
            }
            deployment = id
        }
        try await record(.object([("deployment", .string(deployment))]))
        return try await follow(deployment, rollback: false)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        guard let target = request.targetReference?["deployment"]?.stringValue else {
            return try await deploy(request, record: record)
        }
        let body = JSONValue.object([("deployment_id", .string(target)), ("skip_pin", .bool(false))])
        let validation = try await api.call(.POST, "\(appPath)/rollback/validate", json: body)
        for warning in validation["warnings"]?.arrayValue ?? [] {
            progress("DigitalOcean warns: \(warning["message"]?.stringValue ?? warning.text)")
        }
        guard validation["valid"] == .bool(true) else {
            let reason = validation["error"]?["message"]?.stringValue ?? validation["error"]?.text ?? "no reason given"
            throw ProviderError(.failed, "DigitalOcean refused to roll app \(configuration.app) back to deployment \(target): \(reason).")
        }
        progress("Rolling app \(configuration.app) back to deployment \(target)…")
        let created = try await api.call(.POST, "\(appPath)/rollback", json: body)
        guard let id = created["deployment"]?["id"]?.stringValue else {
            throw ProviderError(.unreachable, "DigitalOcean did not return the rollback deployment.")
        }
        try await record(.object([("deployment", .string(id)), ("rollback_to", .string(target)), ("pinned", .bool(true))]))
        return try await follow(id, rollback: true)
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        if let deployment = operation["deployment"]?.stringValue {
            progress("Following DigitalOcean deployment \(deployment) that the previous run started…")
            return try await follow(deployment, rollback: operation["pinned"] == .bool(true))
        }
        return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
    }

    /// A verified rollback is committed so the app is not left pinned; a failed one is reverted.
    public func settle(_ request: DeploymentRequest, outcome: JSONValue, healthy: Bool) async throws {
        guard outcome["pinned"] == .bool(true) else { return }
        if healthy {
            _ = try await api.call(.POST, "\(appPath)/rollback/commit")
            progress("Committed the rollback of app \(configuration.app): it is no longer pinned.")
        } else {
            _ = try await api.call(.POST, "\(appPath)/rollback/revert")
            progress("Reverted the failed rollback of app \(configuration.app).")
        }
    }

    private func newestDeployment() async throws -> String {
        let list = try await api.call(.GET, "\(appPath)/deployments?page=1&per_page=1")
        guard let id = list["deployments"]?.arrayValue?.first?["id"]?.stringValue else {
            throw ProviderError(.failed, "DigitalOcean accepted the new spec of app \(configuration.app) but started no deployment.")
        }
        return id
    }

    /// What the app serves after `deployment` failed, as DigitalOcean says: a failed deployment
    /// never becomes the active one, which stays what it was.
    private func serving(instead deployment: String) async throws -> ProviderError.Serving {
        let app = try await api.call(.GET, appPath)
        guard let active = app["app"]?["active_deployment"]?["id"]?.stringValue else {
            return .unknown
        }
        return active == deployment ? .failedRelease : .unchanged(observed: "DigitalOcean's active deployment is still \(active)")
    }

    private func follow(_ deployment: String, rollback: Bool) async throws -> DeploymentOutcome {
        let subject = "DigitalOcean deployment \(deployment)"
        let poller = configuration.settings.poller(progress: progress)
        return try await poller.wait {
            try await api.call(.GET, "\(appPath)/deployments/\(deployment)")["deployment"]
        } report: { answer in
            "\(subject): \(Self.phase(answer))"
        } until: { answer in
            let phase = Self.phase(answer)
            if Self.failures.contains(phase) {
                throw ProviderError(
                    .failed, "\(subject) ended \(phase)\(Self.failingStep(answer)).", serving: try await serving(instead: deployment))
            }
            guard phase == "ACTIVE" else { return nil }
            var reference: [(String, JSONValue)] = [("deployment", .string(deployment)), ("app", .string(configuration.app))]
            if rollback { reference.append(("pinned", .bool(true))) }
            return DeploymentOutcome(liveReference: .object(reference), summary: subject)
        } expired: { last in
            throw poller.notFinished(subject, last: "phase \(last.map(Self.phase) ?? "unknown")")
        }
    }

    /// A deployment's phase, "unknown" when the answer has none.
    static func phase(_ deployment: JSONValue?) -> String {
        deployment?["phase"]?.stringValue ?? "unknown"
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
