import Foundation
import NIOHTTP1
import ProviderKit
import ReleaseCore

/// Deploys to Heroku through the Platform API v3: builds from a source tarball, releases a
/// Docker image through the formation, promotes by reusing the source app's slug (build once,
/// deploy many), and rolls back to a recorded release. Every Heroku id is recorded write-ahead.
public struct HerokuProvider: RegistrableProvider {
    /// The provider's name in release.yml.
    public static let providerName = "heroku"

    /// The `heroku:` block of an environment.
    public struct Configuration: Sendable, Equatable {
        /// The Heroku app's name or id.
        public var app: String
        /// The API base URL (default https://api.heroku.com).
        public var apiURL: String?
        /// How often to poll builds and releases (default 2s).
        public var pollInterval: TimeSpan
        /// How long a build plus its release phase may take (default 30m).
        public var timeout: TimeSpan

        /// Reads and validates the block.
        public init(reader: ConfigReader) throws {
            let entries = try reader.mapping(allowed: ["app", "api_url", "poll_interval", "timeout"])
            app = try entries.required("app", "the Heroku app's name, such as crm-api-prod").string()
            apiURL = try entries["api_url"]?.string()
            pollInterval = try entries["poll_interval"]?.timeSpan() ?? .seconds(2)
            timeout = try entries["timeout"]?.timeSpan() ?? .minutes(30)
        }
    }

    /// The Accept header of Platform API v3.
    static let accept = "application/vnd.heroku+json; version=3"
    /// The Accept header for Docker image releases through the formation.
    static let dockerAccept = "application/vnd.heroku+json; version=3.docker-releases"

    let configuration: Configuration
    let token: String?
    let baseURL: String
    let progress: @Sendable (String) -> Void

    /// Creates the provider from its block and the process environment.
    public init(configuration: Configuration, environment: [String: String], progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        token = environment.secret("HEROKU_API_KEY")
        baseURL = environment.nonEmpty("HEROKU_API_URL") ?? configuration.apiURL ?? "https://api.heroku.com"
        self.progress = progress
    }

    /// Builds the provider from its release.yml block.
    public init(block: ConfigReader, context: ProviderRegistry.ProviderContext) throws {
        self.init(configuration: try Configuration(reader: block), environment: context.environment, progress: context.output)
    }

    /// A missing token is a configuration error before any work starts.
    public func preflight() throws {
        guard token != nil else {
            throw ReleaseError.usage("HEROKU_API_KEY is not set. Export a Heroku API token (`heroku authorizations:create`) and try again.")
        }
    }

    var client: HerokuClient {
        HerokuClient(
            api: APIClient(
                configuration: .init(
                    baseURL: baseURL,
                    headers: [
                        ("Accept", Self.accept), ("Authorization", "Bearer \(token ?? "")"),
                        ("User-Agent", "release/\(ReleaseInfo.version) (+https://github.com/release-manager/release)"),
                    ],
                    platform: "Heroku")), app: configuration.app)
    }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        let heroku = client
        if request.kind == .promote, let slug = request.sourceReference?["slug"]?.stringValue,
            request.sourceEnvironment?.provider == Self.providerName
        {
            progress("Releasing slug \(slug) from \(request.sourceEnvironment?.name ?? "the source") on \(configuration.app) (no rebuild)…")
            let release = try await heroku.createRelease(
                slug: slug,
                description: "Promote \(request.release.version) from "
                    + "\(request.sourceEnvironment?.name ?? "source") by release")
            try await record(.object([("release", .string(release.id)), ("version", .int(Int64(release.version))), ("slug", .string(slug))]))
            return try await follow(release: release.id, heroku)
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
            return try await follow(release: release.id, heroku)
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
        return try await follow(build: build.id, heroku, record: record)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        guard let target = request.targetReference?["release"]?.stringValue else {
            // No Heroku release was recorded for the target (it went live some other way): deploy it again.
            return try await deploy(request, record: record)
        }
        let heroku = client
        progress("Rolling \(configuration.app) back to Heroku release \(target)…")
        let release = try await heroku.rollback(to: target)
        try await record(.object([("release", .string(release.id)), ("version", .int(Int64(release.version))), ("rollback_to", .string(target))]))
        return try await follow(release: release.id, heroku)
    }

    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try preflight()
        let heroku = client
        if let release = operation["release"]?.stringValue {
            progress("Following Heroku release \(release) that the previous run started…")
            return try await follow(release: release, heroku)
        }
        if let build = operation["build"]?.stringValue {
            progress("Following Heroku build \(build) that the previous run started…")
            return try await follow(build: build, heroku, record: record)
        }
        return request.kind == .rollback ? try await rollback(request, record: record) : try await deploy(request, record: record)
    }

    private func follow(build id: String, _ heroku: HerokuClient, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        let build = try await poll("build \(id)") {
            try await heroku.build(id)
        } done: {
            $0.status != "pending"
        }
        guard build.status == "succeeded", let release = build.releaseID else {
            throw ProviderError(
                .failed,
                "The Heroku build \(id) \(build.status == "failed" ? "failed" : "ended \(build.status)"); see `heroku "
                    + "builds:output \(id) -a \(configuration.app)`.",
                serving: .unchanged(observed: "Heroku makes no release from a build that did not succeed"))
        }
        try await record(.object([("release", .string(release)), ("slug", .optional(build.slugID))]))
        return try await follow(release: release, heroku)
    }

    private func follow(release id: String, _ heroku: HerokuClient) async throws -> DeploymentOutcome {
        let release = try await poll("release \(id)") {
            try await heroku.release(id)
        } done: {
            $0.status != "pending"
        }
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

    private func poll<T: Sendable>(_ what: String, _ fetch: @Sendable () async throws -> T, done: (T) -> Bool) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.timeout.duration)
        var malformed = 0
        while true {
            do {
                let value = try await fetch()
                if done(value) { return value }
                malformed = 0
            } catch let error as HerokuClient.MalformedAnswer {
                malformed += 1
                if malformed >= 5 { throw ProviderError(.unreachable, error.description) }
            }
            if clock.now >= deadline {
                throw ProviderError(.failed, "Heroku \(what) did not finish within \(configuration.timeout).")
            }
            try await Task.sleep(for: configuration.pollInterval.duration)
        }
    }
}
