import Foundation
import NIOHTTP1
import ProviderKit
import ReleaseCore

/// The few Platform API calls the provider needs, with Heroku's errors turned into sentences.
struct HerokuClient: Sendable {
    let api: APIClient
    let app: String

    struct Build: Sendable {
        var id: String
        var status: String
        var releaseID: String?
        var slugID: String?
    }

    struct Release: Sendable {
        var id: String
        var version: Int
        var status: String
        var slugID: String?
    }

    /// A 2xx answer whose body was not the JSON the schema describes.
    struct MalformedAnswer: Error, CustomStringConvertible {
        var request: String
        var description: String { "Heroku answered \(request) with malformed JSON." }
    }

    private var appPath: String {
        "/apps/" + (app.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? app)
    }

    func createBuild(url: String, version: String?) async throws -> Build {
        var source: [(String, JSONValue)] = [("url", .string(url))]
        if let version { source.append(("version", .string(version))) }
        let answer = try await call(.POST, "\(appPath)/builds", json: .object([("source_blob", .object(source))]))
        return try build(from: answer, "POST \(appPath)/builds")
    }

    func build(_ id: String) async throws -> Build {
        try build(from: try await call(.GET, "\(appPath)/builds/\(id)"), "GET build \(id)")
    }

    func createRelease(slug: String, description: String) async throws -> Release {
        let answer = try await call(.POST, "\(appPath)/releases", json: .object([("slug", .string(slug)), ("description", .string(description))]))
        return try release(from: answer, "POST \(appPath)/releases")
    }

    func rollback(to release: String) async throws -> Release {
        let answer = try await call(.POST, "\(appPath)/releases", json: .object([("release", .string(release))]))
        return try self.release(from: answer, "POST \(appPath)/releases")
    }

    func release(_ id: String) async throws -> Release {
        try release(from: try await call(.GET, "\(appPath)/releases/\(id)"), "GET release \(id)")
    }

    func latestRelease() async throws -> Release? {
        let answer = try await call(.GET, "\(appPath)/releases", headers: [("Range", "version ..; max=1, order=desc")])
        guard let items = answer?.arrayValue else { throw MalformedAnswer(request: "GET \(appPath)/releases") }
        return try items.first.map { try release(from: $0, "GET \(appPath)/releases") }
    }

    /// The release a formation update created: the newest one after `version`.
    func releaseAfter(version: Int) async throws -> Release {
        for _ in 0..<10 {
            if let latest = try await latestRelease(), latest.version > version { return latest }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw ProviderError(.failed, "Heroku accepted the image for \(app) but no new release appeared.")
    }

    func updateFormation(image: String) async throws {
        _ = try await call(
            .PATCH, "\(appPath)/formation",
            json: .object([("updates", .array([.object([("type", .string("web")), ("docker_image", .string(image))])]))]),
            headers: [("Accept", HerokuProvider.dockerAccept)])
    }

    private func call(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil, headers: [(String, String)] = []) async throws -> JSONValue? {
        do {
            let response = try await api.send(method, path, json: json, headers: headers)
            guard let body = response.json else {
                if method == .GET { throw MalformedAnswer(request: "\(method.rawValue) \(path)") }
                throw ProviderError(
                    .unreachable,
                    "Heroku answered \(method.rawValue) \(path) with malformed JSON; the operation may have "
                        + "started, so check the app on Heroku before retrying.")
            }
            return body
        } catch let error as APIClient.StatusError {
            throw translate(error)
        }
    }

    private func translate(_ error: APIClient.StatusError) -> ProviderError {
        let id = error.body?["id"]?.stringValue
        let message = error.body?["message"]?.stringValue ?? error.text
        let herokuSays = "\(id.map { "\($0): " } ?? "")\(message)"
        switch error.status {
        case 401:
            return ProviderError(
                .configuration,
                "Heroku rejected HEROKU_API_KEY (HTTP 401, \(herokuSays)). Set HEROKU_API_KEY to a valid token "
                    + "(`heroku authorizations:create`).")
        case 403:
            return ProviderError(
                .configuration,
                "HEROKU_API_KEY may not do this on \(app) (HTTP 403, \(herokuSays)). Use a token of an account "
                    + "with deploy access to the app.")
        case 404:
            return ProviderError(
                .configuration,
                "Heroku does not know \(error.request) (HTTP 404, \(herokuSays)). Check \(HerokuProvider.blockKeys("app")) in "
                    + "release.yml.")
        case 429, 500...599:
            return ProviderError(.unreachable, "Heroku kept failing \(error.request) (HTTP \(error.status), \(herokuSays)).")
        default:
            return ProviderError(.failed, "Heroku refused \(error.request) (HTTP \(error.status), \(herokuSays)).")
        }
    }

    private func build(from json: JSONValue?, _ request: String) throws -> Build {
        guard let json, let id = json["id"]?.stringValue, let status = json["status"]?.stringValue else {
            throw MalformedAnswer(request: request)
        }
        return Build(id: id, status: status, releaseID: json["release"]?["id"]?.stringValue, slugID: json["slug"]?["id"]?.stringValue)
    }

    private func release(from json: JSONValue?, _ request: String) throws -> Release {
        guard let json, let id = json["id"]?.stringValue, let version = json["version"]?.intValue,
            let status = json["status"]?.stringValue
        else {
            throw MalformedAnswer(request: request)
        }
        return Release(id: id, version: Int(version), status: status, slugID: json["slug"]?["id"]?.stringValue)
    }
}
