import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ReleaseCore

/// The fake Heroku Platform API (Tests/Fakes/heroku/fake_heroku.py), started on loopback for one
/// test. It accepts only what the official schema's links allow and stops by itself.
public final class FakeHeroku: @unchecked Sendable {
    /// The port on 127.0.0.1.
    public let port: Int
    /// The token the fake accepts.
    public let apiKey: String
    private let process: Process

    public var url: String { "http://127.0.0.1:\(port)" }

    public static var schema: String {
        ProjectPaths.root + "/../shared/specs/heroku/platform-api-schema.json"
    }

    private init(port: Int, apiKey: String, process: Process) {
        self.port = port
        self.apiKey = apiKey
        self.process = process
    }

    public static func with<T: Sendable>(_ body: (FakeHeroku) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-heroku-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let portFile = directory + "/port"
        let apiKey = "hk-test-\(UUID().uuidString.prefix(12))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Python.executable)
        process.arguments = [ProjectPaths.root + "/Tests/Fakes/heroku/fake_heroku.py", "--schema", schema, "--port", "0",
                             "--port-file", portFile, "--token", apiKey, "--max-seconds", "300"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var port: Int?
        for _ in 0..<500 where port == nil {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                port = value
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        guard let port else {
            kill(process.processIdentifier, SIGKILL)
            throw TestSupportError("the fake Heroku did not start")
        }
        let server = FakeHeroku(port: port, apiKey: apiKey, process: process)
        do {
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    private func stop() async {
        kill(process.processIdentifier, SIGKILL)
        let process = self.process
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }

    /// Sets failure modes (see the fake's README).
    public func control(_ settings: JSONValue) async throws {
        var request = URLRequest(url: URL(string: url + "/__control")!)
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
