import Foundation
import ReleaseCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A fake platform API from Tests/Fakes (Heroku, Railway, DigitalOcean; the signal sources Prometheus,
/// Datadog and Sentry), started on loopback for one test. Each loads the platform's official description
/// from ../shared/specs, accepts only what it allows, and stops by itself.
public final class FakeAPI: @unchecked Sendable {
    /// The port on 127.0.0.1.
    public let port: Int
    /// The token the fake accepts.
    public let apiKey: String
    /// The project token the fake accepts (Railway).
    public let projectToken: String
    /// The application key the fake accepts in DD-APPLICATION-KEY (Datadog; `apiKey` is its DD-API-KEY).
    public let appKey: String

    public var url: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, apiKey: String, projectToken: String, appKey: String) {
        self.port = port
        self.apiKey = apiKey
        self.projectToken = projectToken
        self.appKey = appKey
    }

    /// The fake Heroku Platform API, following ../shared/specs/heroku/platform-api-schema.json.
    public static func heroku<T: Sendable>(_ body: (FakeAPI) async throws -> T) async throws -> T {
        try await with(script: "heroku/fake_heroku.py", schema: "heroku/platform-api-schema.json", body)
    }

    /// The fake Railway GraphQL API, validating against ../shared/specs/railway/schema.json.
    public static func railway<T: Sendable>(_ body: (FakeAPI) async throws -> T) async throws -> T {
        try await with(script: "railway/fake_railway.py", schema: "railway/schema.json", projectTokenArgument: true, body)
    }

    /// The fake DigitalOcean App Platform API, checking requests against ../shared/specs/digitalocean.
    public static func digitalOcean<T: Sendable>(_ body: (FakeAPI) async throws -> T) async throws -> T {
        try await with(script: "digitalocean/fake_digitalocean.py", schema: "digitalocean/specification", schemaFlag: "--spec", body)
    }

    /// The fake Prometheus HTTP API (instant queries, alerts; Tests/Fakes/prometheus), checking requests
    /// against ../shared/specs/prometheus/openapi-3.1.yaml. With `requireToken` it wants
    /// `Authorization: Bearer <apiKey>`; without, no credentials.
    public static func prometheus<T: Sendable>(requireToken: Bool = true, _ body: (FakeAPI) async throws -> T) async throws -> T {
        try await with(
            script: "prometheus/fake_prometheus.py", schema: "prometheus/openapi-3.1.yaml", schemaFlag: "--spec", tokenArgument: requireToken,
            body)
    }

    /// The fake Datadog API v1 (metric queries, monitors, events; Tests/Fakes/datadog), checking requests
    /// against ../shared/specs/datadog/v1-openapi.yaml: DD-API-KEY is `apiKey`, DD-APPLICATION-KEY `appKey`.
    public static func datadog<T: Sendable>(_ body: (FakeAPI) async throws -> T) async throws -> T {
        try await with(script: "datadog/fake_datadog.py", schema: "datadog/v1-openapi.yaml", schemaFlag: "--spec", appKeyArgument: true, body)
    }

    /// The fake Sentry web API (releases, deploys, new issues, error events; Tests/Fakes/sentry), checking
    /// requests against ../shared/specs/sentry/openapi-derefed.json; `Authorization: Bearer <apiKey>`.
    public static func sentry<T: Sendable>(_ body: (FakeAPI) async throws -> T) async throws -> T {
        try await with(script: "sentry/fake_sentry.py", schema: "sentry/openapi-derefed.json", schemaFlag: "--spec", body)
    }

    /// Webhook and GitHub-issue receivers (Tests/Fakes/notify/fake_receiver.py); `apiKey` is the
    /// GitHub token it accepts.
    public static func receiver<T: Sendable>(_ body: (FakeAPI) async throws -> T) async throws -> T {
        try await with(script: "notify/fake_receiver.py", schema: nil, body)
    }

    private static func with<T: Sendable>(
        script: String, schema: String?, schemaFlag: String = "--schema", tokenArgument: Bool = true,
        projectTokenArgument: Bool = false, appKeyArgument: Bool = false, _ body: (FakeAPI) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-api-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let portFile = directory + "/port"
        let apiKey = "tok-test-\(UUID().uuidString.prefix(12))"
        let projectToken = "ptok-test-\(UUID().uuidString.prefix(12))"
        let appKey = "appkey-test-\(UUID().uuidString.prefix(12))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Python.executable)
        process.arguments =
            [ProjectPaths.root + "/Tests/Fakes/" + script]
            + (schema.map { [schemaFlag, ProjectPaths.root + "/../shared/specs/" + $0] } ?? [])
            + ["--port", "0", "--port-file", portFile, "--max-seconds", "300"]
            + (tokenArgument ? ["--token", apiKey] : [])
            + (projectTokenArgument ? ["--project-token", projectToken] : [])
            + (appKeyArgument ? ["--app-key", appKey] : [])
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Generous: loading an official description takes seconds when the two cores are busy.
        var port: Int?
        let deadline = ContinuousClock.now.advanced(by: .seconds(90))
        while port == nil, ContinuousClock.now < deadline, process.isRunning {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                port = value
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        guard let port else {
            kill(process.processIdentifier, SIGKILL)
            throw TestSupportError("the fake \(script) did not start")
        }
        let server = FakeAPI(port: port, apiKey: apiKey, projectToken: projectToken, appKey: appKey)
        return try await ServerProcess.run(process, serving: server, body)
    }

    /// Sets failure modes (see the fake's README).
    public func control(_ settings: JSONValue) async throws {
        try await Self.postControl(settings, to: url + "/__control")
    }

    /// POSTs control settings to a fake's control route and insists that it took them.
    static func postControl(_ settings: JSONValue, to url: String) async throws {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(settings.text.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw TestSupportError("control \(settings.text) failed") }
    }

    /// Everything the fake holds, and every request it received.
    public func state() async throws -> JSONValue {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + "/__state")!)
        guard let json = JSONValue(parsing: data) else { throw TestSupportError("the fake's state is not JSON") }
        return json
    }

    /// The API requests received (method and path), in order.
    public func requests() async throws -> [(method: String, path: String, body: JSONValue?, headers: JSONValue?)] {
        let items = try await state()["requests"]?.arrayValue ?? []
        return items.map { item in
            (item["method"]?.stringValue ?? "", item["path"]?.stringValue ?? "", item["body"], item["headers"])
        }
    }
}

extension FakeAPI {
    /// Sets the fake's controls from JSON text.
    public func control(_ json: String) async throws {
        guard let settings = JSONValue(parsing: Array(json.utf8)) else { throw TestSupportError("not JSON: \(json)") }
        try await control(settings)
    }

    /// The API requests the fake logged, each with `method`, `path`, `params` (what the service
    /// read, typed), `body`, `headers` and `status`.
    public func logged(_ path: String? = nil) async throws -> [JSONValue] {
        let all = try await state()["requests"]?.arrayValue ?? []
        return path.map { path in all.filter { $0["path"]?.stringValue == path } } ?? all
    }
}
