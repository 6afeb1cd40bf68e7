import Foundation
import NIOHTTP1
import ProviderKit
import ReleaseCore

/// The few Platform API calls the provider needs, and the shapes of their answers.
struct HerokuClient: Sendable {
    let api: PlatformAPI
    let app: String

    /// A build or a release, which is `pending` until it succeeds or fails.
    protocol Settling {
        var status: String { get }
    }

    struct Build: Settling, Sendable {
        var id: String
        var status: String
        var releaseID: String?
        var slugID: String?
    }

    struct Release: Settling, Sendable {
        var id: String
        var version: Int
        var status: String
        var slugID: String?
    }

    private var appPath: String {
        "/apps/" + (app.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? app)
    }

    func createBuild(url: String, version: String?) async throws -> Build {
        var source: [(String, JSONValue)] = [("url", .string(url))]
        if let version { source.append(("version", .string(version))) }
        let path = "\(appPath)/builds"
        return try build(from: try await api.call(.POST, path, json: .object([("source_blob", .object(source))])), .POST, path)
    }

    func build(_ id: String) async throws -> Build {
        let path = "\(appPath)/builds/\(id)"
        return try build(from: try await api.call(.GET, path), .GET, path)
    }

    func createRelease(slug: String, description: String) async throws -> Release {
        try await newRelease(.object([("slug", .string(slug)), ("description", .string(description))]))
    }

    func rollback(to release: String) async throws -> Release {
        try await newRelease(.object([("release", .string(release))]))
    }

    private func newRelease(_ body: JSONValue) async throws -> Release {
        let path = "\(appPath)/releases"
        return try release(from: try await api.call(.POST, path, json: body), .POST, path)
    }

    func release(_ id: String) async throws -> Release {
        let path = "\(appPath)/releases/\(id)"
        return try release(from: try await api.call(.GET, path), .GET, path)
    }

    func latestRelease() async throws -> Release? {
        let path = "\(appPath)/releases"
        let answer = try await api.call(.GET, path, headers: [("Range", "version ..; max=1, order=desc")])
        guard let items = answer.arrayValue else { throw api.malformed("GET \(path)") }
        return try items.first.map { try release(from: $0, .GET, path) }
    }

    /// The release a formation update created: the newest one after `version`.
    func releaseAfter(version: Int) async throws -> Release {
        try await Poller(interval: .milliseconds(500), timeout: .seconds(5)).wait {
            try await latestRelease()
        } until: { latest in
            latest.flatMap { $0.version > version ? $0 : nil }
        } expired: { _ in
            throw ProviderError(.failed, "Heroku accepted the image for \(app) but no new release appeared.")
        }
    }

    func updateFormation(image: String) async throws {
        _ = try await api.call(
            .PATCH, "\(appPath)/formation",
            json: .object([("updates", .array([.object([("type", .string("web")), ("docker_image", .string(image))])]))]),
            headers: [("Accept", HerokuProvider.dockerAccept)])
    }

    /// A build from an answer to `method` `path`; the schema's shape or `MalformedAnswer`.
    private func build(from json: JSONValue, _ method: HTTPMethod, _ path: String) throws -> Build {
        guard let id = json["id"]?.stringValue, let status = json["status"]?.stringValue else {
            throw api.malformed("\(method.rawValue) \(path)", repeatable: method == .GET)
        }
        return Build(id: id, status: status, releaseID: json["release"]?["id"]?.stringValue, slugID: json["slug"]?["id"]?.stringValue)
    }

    /// A release from an answer to `method` `path`; the schema's shape or `MalformedAnswer`.
    private func release(from json: JSONValue, _ method: HTTPMethod, _ path: String) throws -> Release {
        guard let id = json["id"]?.stringValue, let version = json["version"]?.intValue, let status = json["status"]?.stringValue else {
            throw api.malformed("\(method.rawValue) \(path)", repeatable: method == .GET)
        }
        return Release(id: id, version: Int(version), status: status, slugID: json["slug"]?["id"]?.stringValue)
    }
}
