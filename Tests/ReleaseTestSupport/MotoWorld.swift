import Foundation
import ReleaseCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// moto_server on loopback with signature checks on, holding an ECS service, a Lambda alias and a
/// CloudWatch alarm (Tests/Fakes/aws/moto_world.py), started for one test and stopped after it.
public final class MotoWorld: @unchecked Sendable {
    /// The world's description as the script wrote it (keys, names, ports).
    public let description: JSONValue

    private init(description: JSONValue) {
        self.description = description
    }

    /// moto's base URL.
    public var endpoint: String { description["endpoint"]?.stringValue ?? "" }
    /// The URL of the health and state server beside moto.
    public var healthURL: String { description["health_url"]?.stringValue ?? "" }
    /// The region everything lives in.
    public var region: String { description["region"]?.stringValue ?? "" }
    /// The access key of the IAM user allowed to deploy.
    public var accessKeyID: String { description["access_key_id"]?.stringValue ?? "" }
    /// Its secret.
    public var secretAccessKey: String { description["secret_access_key"]?.stringValue ?? "" }
    /// The CloudWatch alarm there is (OK until `control(["alarm_states": …])` says otherwise).
    public var alarm: String { description["alarm"]?.stringValue ?? "" }
    /// The task definition ARN the ECS services start on.
    public var firstTaskDefinition: String { description["task_definition_arn"]?.stringValue ?? "" }

    /// The environment a `release` process or a provider needs to reach this world.
    public var environment: [String: String] {
        [
            "AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey, "AWS_REGION": region,
            "AWS_ENDPOINT_URL": endpoint,
        ]
    }

    /// Starts a world, runs `body`, and stops the world whatever happens.
    public static func with<T: Sendable>(rolloutSeconds: Double = 0.5, _ body: (MotoWorld) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moto-world-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stateFile = directory + "/world.json"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Python.executable)
        process.arguments = [
            ProjectPaths.root + "/Tests/Fakes/aws/moto_world.py", "--state-file", stateFile,
            "--rollout-seconds", String(rolloutSeconds), "--max-seconds", "600",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var description: JSONValue?
        let deadline = ContinuousClock.now.advanced(by: .seconds(120))
        while description == nil, ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: stateFile), let json = JSONValue(parsing: data) {
                description = json
            } else if !process.isRunning {
                break
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        guard let description else {
            kill(process.processIdentifier, SIGKILL)
            throw TestSupportError("moto_world.py did not start (is moto[server] installed? ops/test installs it)")
        }
        let world = MotoWorld(description: description)
        return try await ServerProcess.run(process, serving: world, body)
    }

    /// Sets the world's test controls (`echo_credentials`, `alarm_states`, `metric_points`; see moto_world.py).
    public func control(_ settings: JSONValue) async throws {
        try await FakeAPI.postControl(settings, to: healthURL + "/__control")
    }

    /// What is deployed now: services (task definition, images, deployments), all task definition
    /// ARNs, and each function's aliases and versions.
    public func state() async throws -> JSONValue {
        let (data, _) = try await URLSession.shared.data(from: URL(string: healthURL + "/__state")!)
        guard let json = JSONValue(parsing: data) else { throw TestSupportError("moto_world's state is not JSON") }
        return json
    }

    /// The state of one ECS service ("cluster:service").
    public func service(_ name: String = "crm-api", cluster: String = "crm") async throws -> JSONValue {
        guard let service = try await state()["services"]?["\(cluster):\(name)"] else { throw TestSupportError("no service \(name)") }
        return service
    }

    /// The version an alias points at.
    public func aliasVersion(function: String = "crm-api", alias: String = "live") async throws -> String? {
        try await state()["functions"]?[function]?["aliases"]?[alias]?.stringValue
    }

    /// The health URL of an ECS service: 500 while any of its containers runs a "broken" image.
    public func ecsHealthURL(_ service: String = "crm-api", cluster: String = "crm") -> String {
        "\(healthURL)/__health/ecs/\(cluster)/\(service)"
    }

    /// The health URL of a Lambda alias: 500 while its version's code is "broken".
    public func lambdaHealthURL(function: String = "crm-api", alias: String = "live") -> String {
        "\(healthURL)/__health/lambda/\(function)/\(alias)"
    }
}
