import Foundation
import ProviderKit
import ReleaseCore

/// Deploys to Heroku through the Platform API v3: builds from a source tarball, releases a
/// Docker image through the formation, promotes by reusing the source app's slug (build once,
/// deploy many), and rolls back to a recorded release. Every Heroku id is recorded write-ahead.
public struct HerokuProvider: PlatformProvider {
    /// The provider's name in release.yml.
    public static let providerName = "heroku"

    /// The `heroku:` block of an environment.
    public struct Configuration: ProviderBlock, Equatable {
        /// The Heroku app's name or id.
        public var app: String
        /// `api_url` (default https://api.heroku.com), `poll_interval` for builds and releases
        /// (default 2s), `timeout` for a build plus its release phase (default 30m).
        public var settings: ProviderSettings

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let (entries, settings) = try ProviderSettings.read(reader, keys: ["app"], pollInterval: .seconds(2), timeout: .minutes(30))
            app = try entries.required("app", "the Heroku app's name, such as crm-api-prod").string()
            self.settings = settings
        }
    }

    /// The Accept header of Platform API v3.
    static let accept = "application/vnd.heroku+json; version=3"
    /// The Accept header for Docker image releases through the formation.
    static let dockerAccept = "application/vnd.heroku+json; version=3.docker-releases"

    let configuration: Configuration
    /// The token, from the process environment.
    public let credentials: APICredential
    let heroku: HerokuClient
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        credentials = APICredential("HEROKU_API_KEY", in: environment, advice: "a Heroku API token (`heroku authorizations:create`) and try again")
        let api = APIClient.Configuration(
            baseURL: configuration.settings.baseURL(overriddenBy: ["HEROKU_API_URL"], in: environment, platform: "https://api.heroku.com"),
            headers: [("Accept", Self.accept), credentials.bearer], platform: "Heroku")
        let errors = APIErrors(
            token: credentials, hint: " (`heroku authorizations:create`)",
            forbiddenAdvice: { _ in "Use a token of an account with deploy access to the app." }, lookupKeys: Self.blockKeys("app"))
        heroku = HerokuClient(api: PlatformAPI(api, errors: errors), app: configuration.app)
        self.progress = progress
    }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        if request.kind == .promote, let slug = request.sourceReference?["slug"]?.stringValue,
            request.sourceEnvironment?.provider == Self.providerName
        {
            progress("Releasing slug \(slug) from \(request.sourceEnvironment?.name ?? "the source") on \(configuration.app) (no rebuild)…")
            let release = try await heroku.createRelease(
                slug: slug,
                description: "Promote \(request.release.version) from "
                    + "\(request.sourceEnvironment?.name ?? "source") by release")
            try await record(.object([("release", .string(release.id)), ("version", .int(Int64(release.version))), ("slug", .string(slug))]))
            return try await follow(release: release.id)
        }
        guard let artifact = request.release.artifact, !artifact.isEmpty else {
            throw ProviderError(
                .configuration,
                "Release \(request.release.version) has no artifact: Heroku needs an https:// source tarball or "
                    + "a sha256: image id (`release create --artifact …`).")
        }
        if artifact.hasPrefix("sha256:") {
            progress("Releasing image \(artifact) on \(configuration.app) through the formation…")
            let before = try await heroku.latestRelease()?.version ?? 0
            try await heroku.updateFormation(image: artifact)
            let release = try await heroku.releaseAfter(version: before)
            try await record(.object([("release", .string(release.id)), ("version", .int(Int64(release.version))), ("image", .string(artifact))]))
            return try await follow(release: release.id)
        }
        guard artifact.hasPrefix("https://") || artifact.hasPrefix("http://") else {
            throw ProviderError(
                .configuration,
                "Heroku cannot deploy artifact '\(artifact)': give an https:// source tarball URL or a sha256: "
                    + "Docker image id.")
        }
        progress("Building \(request.release.version) on \(configuration.app) from \(artifact)…")
        let build = try await heroku.createBuild(url: artifact, version: request.release.commit)
        try await record(.object([("build", .string(build.id))]))
        return try await follow(build: build.id, record: record)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        guard let target = request.targetReference?["release"]?.stringValue else {
            // No Heroku release was recorded for the target (it went live some other way): deploy it again.
            return try await deploy(request, record: record)
        }
        progress("Rolling \(configuration.app) back to Heroku release \(target)…")
        let release = try await heroku.rollback(to: target)
        try await record(.object([("release", .string(release.id)), ("version", .int(Int64(release.version))), ("rollback_to", .string(target))]))
        return try await follow(release: release.id)
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        if let release = operation["release"]?.stringValue {
            progress("Following Heroku release \(release) that the previous run started…")
            return try await follow(release: release)
        }
        if let build = operation["build"]?.stringValue {
            progress("Following Heroku build \(build) that the previous run started…")
            return try await follow(build: build, record: record)
        }
        return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
    }

    private func follow(build id: String, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        let build = try await poll("Heroku build \(id)") { try await heroku.build(id) }
        guard build.status == "succeeded", let release = build.releaseID else {
            throw ProviderError(
                .failed,
                "The Heroku build \(id) \(build.status == "failed" ? "failed" : "ended \(build.status)"); see `heroku "
                    + "builds:output \(id) -a \(configuration.app)`.",
                serving: .unchanged(observed: "Heroku makes no release from a build that did not succeed"))
        }
        try await record(.object([("release", .string(release)), ("slug", .optional(build.slugID))]))
        return try await follow(release: release)
    }

    private func follow(release id: String) async throws -> DeploymentOutcome {
        let release = try await poll("Heroku release \(id)") { try await heroku.release(id) }
        guard release.status == "succeeded" else {
            // Heroku makes a release current only once its release phase succeeded.
            throw ProviderError(
                .failed,
                "Heroku release v\(release.version) "
                    + "\(release.status == "failed" ? "failed in its release phase and never went live" : "ended \(release.status)"); see `heroku "
                    + "releases:output \(release.version) -a \(configuration.app)`.",
                serving: .unchanged(observed: "Heroku release v\(release.version) is \(release.status), never current"))
        }
        return DeploymentOutcome(
            liveReference: .object([
                ("release", .string(release.id)), ("version", .int(Int64(release.version))),
                ("slug", .optional(release.slugID)), ("app", .string(configuration.app)),
            ]),
            summary: "Heroku release v\(release.version) of \(configuration.app)")
    }

    /// Fetches `subject`, a build or a release, until it is no longer pending, within the block's timeout.
    private func poll<T: HerokuClient.Settling>(_ subject: String, _ fetch: () async throws -> T) async throws -> T {
        let poller = configuration.settings.poller()
        return try await poller.wait(look: fetch, until: { $0.status == "pending" ? nil : $0 }, expired: { _ in throw poller.notFinished(subject) })
    }
}
