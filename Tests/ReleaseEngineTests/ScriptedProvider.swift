import Foundation
import ReleaseCore

/// A platform whose every answer a test scripts, standing in for Heroku, Railway or a command.
///
/// Each call the engine makes (deploy, rollback, resume) takes the next step scripted for that
/// call and version, or succeeds when none is left. The provider remembers every call, so a test
/// can assert what the engine asked for, and which version the platform serves, so the health
/// endpoint (`isHealthy`) can answer for what is really there.
final class ScriptedProvider: DeploymentProvider, @unchecked Sendable {
    /// The provider calls the engine makes.
    enum Method: String, Sendable {
        case deploy, rollback, resume, settle
    }

    /// What one call does.
    indirect enum Step: Sendable {
        /// Records its operation and puts the release live.
        case succeed
        /// Fails, reporting `serving`: before the platform started anything, or (`.failedRelease`)
        /// after it put the release live.
        case fail(String, serving: ProviderError.Serving)
        /// Records its operation, puts the release on some instances, then fails not knowing
        /// what serves: the platform started something the engine cannot take back.
        case partlyRollOut(String)
        /// Records its operation, then the platform stops answering: the operation may still be
        /// running there.
        case unreachableAfterRecording(String)
        /// Records its operation and waits until a test calls `proceed()`, then does `then`; ends
        /// with `CancellationError` when its task is cancelled or the test `abandon()`s it.
        case hang(then: Step)
    }

    /// One call as the engine made it.
    struct Call: Sendable, Equatable {
        var method: Method
        var version: String
        var deploymentID: Int64
        /// What `resume` was handed: the operation recorded write-ahead.
        var operation: JSONValue?
        /// What `rollback` was handed: the target release's live reference.
        var targetReference: JSONValue?
        /// What `settle` was told.
        var healthy: Bool?
    }

    private let lock = NSLock()
    private var steps: [String: [Step]] = [:]
    private var made: [Call] = []
    private var served: String?
    private var broken: Set<String> = []
    private var released = false
    private var abandoned = false

    /// Scripts the next `method` call for `version`; calls without a script succeed.
    func on(_ method: Method, _ version: String, _ step: Step) {
        lock.withLock { steps["\(method.rawValue) \(version)", default: []].append(step) }
    }

    /// Every call so far, in order.
    var calls: [Call] { lock.withLock { made } }

    /// What the engine asked the platform to do, such as `["deploy 1.1.0", "rollback 1.0.0"]`
    /// (`settle`, which changes nothing there, left out).
    var asked: [String] { calls.filter { $0.method != .settle }.map { "\($0.method.rawValue) \($0.version)" } }

    /// The version the platform serves now.
    var serving: String? { lock.withLock { served } }

    /// Makes `version` answer its health probe badly whenever it is served.
    func breaks(_ version: String) {
        lock.withLock { _ = broken.insert(version) }
    }

    /// Whether what is served now answers its health probe well.
    var isHealthy: Bool { lock.withLock { served.map { !broken.contains($0) } ?? false } }

    /// Lets every hanging call go on.
    func proceed() {
        lock.withLock { released = true }
    }

    /// Ends every hanging call, now and later, as if cancelled: a test that stops early leaves no
    /// call waiting for `proceed()`.
    func abandon() {
        lock.withLock { abandoned = true }
    }

    /// Waits until the engine has made `count` calls (a test's view of "the provider is working").
    func waitForCalls(_ count: Int) async throws {
        try await waitUntil("the engine made \(count) provider calls") { self.calls.count >= count }
    }

    func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try await perform(.deploy, request, record: record)
    }

    func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try await perform(.rollback, request, targetReference: request.targetReference, record: record)
    }

    func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try await perform(.resume, request, operation: operation, record: record)
    }

    func settle(_ request: DeploymentRequest, outcome: JSONValue, healthy: Bool) async throws {
        append(Call(method: .settle, version: request.release.version, deploymentID: request.deploymentID, healthy: healthy))
    }

    private func append(_ call: Call) {
        lock.withLock { made.append(call) }
    }

    private func perform(
        _ method: Method, _ request: DeploymentRequest, operation: JSONValue? = nil, targetReference: JSONValue? = nil,
        record: OperationRecorder
    ) async throws -> DeploymentOutcome {
        let version = request.release.version
        append(
            Call(
                method: method, version: version, deploymentID: request.deploymentID, operation: operation,
                targetReference: targetReference))
        let step: Step? = lock.withLock {
            let key = "\(method.rawValue) \(version)"
            return steps[key]?.isEmpty == false ? steps[key]?.removeFirst() : nil
        }
        return try await run(step ?? .succeed, request, record: record)
    }

    private func run(_ step: Step, _ request: DeploymentRequest, record: OperationRecorder) async throws -> DeploymentOutcome {
        let version = request.release.version
        let operation = JSONValue.object([("operation", .string("op-\(request.deploymentID)"))])
        switch step {
        case .succeed:
            try await record(operation)
            lock.withLock { served = version }
            return DeploymentOutcome(liveReference: .object([("release", .string(version))]), summary: "scripted release \(version)")
        case let .fail(message, serving):
            if serving == .failedRelease {
                // The platform took the release live before it failed there.
                try await record(operation)
                lock.withLock { served = version }
            }
            throw ProviderError(.failed, message, serving: serving)
        case let .partlyRollOut(message):
            try await record(operation)
            throw ProviderError(.failed, message, serving: .unknown)
        case let .unreachableAfterRecording(message):
            try await record(operation)
            throw ProviderError(.unreachable, message)
        case let .hang(then):
            try await record(operation)
            while !lock.withLock({ released }) {
                if lock.withLock({ abandoned }) { throw CancellationError() }
                try await Task.sleep(for: .milliseconds(10))
            }
            return try await run(then, request, record: { _ in })
        }
    }
}

/// Waits until `condition` holds, for at most 20 seconds, then fails saying what did not happen.
func waitUntil(_ what: String, _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw ScriptError("waited 20 s in vain until \(what)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A scripted scenario that did not unfold as the test expected.
struct ScriptError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
