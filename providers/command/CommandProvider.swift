import Foundation
import ProviderKit
import ReleaseCore

/// The `command` provider: runs the team's own deploy script with `sh -c`.
///
/// The script learns what to do from RELEASE_* variables; exit 0 means the release is live.
public struct CommandProvider: RegistrableProvider {
    /// The provider's name in release.yml.
    public static let providerName = "command"

    /// The `command:` block of an environment.
    public struct Configuration: Sendable, Equatable {
        /// The deploy command.
        public var deploy: String
        /// The rollback command; without one, rollbacks run `deploy` with the older release.
        public var rollback: String?
        /// How long a command may run (default 10m).
        public var timeout: TimeSpan
        /// How long a command gets to stop once asked, at its timeout or when `release` is
        /// interrupted (SIGINT, SIGTERM, SIGHUP), before its whole process group is killed (default 10s).
        public var stopTimeout: TimeSpan
        /// The working directory, relative to release.yml's folder.
        public var workdir: String?

        /// Reads and validates the block.
        public init(reader: ConfigReader, configurationDirectory: String) throws {
            let entries = try reader.mapping(allowed: ["deploy", "rollback", "timeout", "stop_timeout", "workdir", "api_url"])
            deploy = try entries.required("deploy", "the shell command that deploys, such as ./deploy.sh").string()
            rollback = try entries["rollback"]?.string()
            timeout = try entries["timeout"]?.timeSpan() ?? .minutes(10)
            stopTimeout = try entries["stop_timeout"]?.timeSpan() ?? .seconds(10)
            if let directory = try entries["workdir"]?.string() {
                workdir = directory.hasPrefix("/") ? directory : configurationDirectory + "/" + directory
            } else {
                workdir = configurationDirectory
            }
        }
    }

    /// The environment's settings.
    public let configuration: Configuration
    /// Where each output line of the script goes (the CLI shows it to the user).
    public let output: @Sendable (String) -> Void

    /// Creates the provider.
    public init(configuration: Configuration, output: @escaping @Sendable (String) -> Void = { _ in }) {
        self.configuration = configuration
        self.output = output
    }

    /// Builds the provider from its release.yml block, relative paths resolved against release.yml's folder.
    public init(block: ConfigReader, context: ProviderRegistry.ProviderContext) throws {
        self.init(
            configuration: try Configuration(reader: block, configurationDirectory: context.configurationDirectory),
            output: context.output)
    }

    public func deploy(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        if request.kind == .rollback { return try await rollback(request, record: record) }
        return try await run(configuration.deploy, operation: "deploy", request, record: record)
    }

    public func rollback(_ request: DeploymentRequest, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        try await run(configuration.rollback ?? configuration.deploy, operation: "rollback", request, record: record)
    }

    /// A shell command leaves nothing to poll, so resuming runs it again: deploy scripts must be
    /// idempotent (deploying the same release twice is harmless), as most are.
    public func resume(_ request: DeploymentRequest, operation: JSONValue, record: @escaping OperationRecorder) async throws -> DeploymentOutcome {
        // A `release` killed with SIGKILL does not take its command with it (the command runs in
        // its own process group; only SIGINT, SIGTERM and SIGHUP are passed on): never run a second
        // copy beside the first. Wait for it, within the command's timeout, then stop it.
        if let pid = operation["pid"]?.intValue, pid > 1, pid < Int64(Int32.max) {
            await waitForLeftover(group: Int32(pid), deploymentID: request.deploymentID)
        }
        if request.kind == .rollback {
            return try await rollback(request, record: record)
        }
        return try await deploy(request, record: record)
    }

    private func run(
        _ command: String, operation: String, _ request: DeploymentRequest,
        record: @escaping OperationRecorder
    ) async throws -> DeploymentOutcome {
        var environment = ProcessEnvironment.current
        environment["RELEASE_APP"] = request.app
        environment["RELEASE_ENV"] = request.environment.name
        environment["RELEASE_VERSION"] = request.release.version
        environment["RELEASE_COMMIT"] = request.release.commit ?? ""
        environment["RELEASE_ARTIFACT"] = request.release.artifact ?? ""
        environment["RELEASE_PREVIOUS_VERSION"] = request.previous?.version ?? ""
        environment["RELEASE_OPERATION"] = operation
        environment["RELEASE_DEPLOYMENT_ID"] = String(request.deploymentID)
        var child = ChildProcess(
            arguments: ["/bin/sh", "-c", command], environment: environment,
            workingDirectory: configuration.workdir, timeout: configuration.timeout.duration)
        child.stopTimeout = configuration.stopTimeout.duration
        let termination: ChildProcess.Termination
        do {
            termination = try await child.run(
                onStart: { pid in
                    try? await record(.object([("command", .string(operation)), ("pid", .int(Int64(pid)))]))
                },
                onLine: output)
        } catch {
            throw ProviderError(
                .configuration, "The \(operation) command could not start: \(error). Check \(Self.blockKeys("workdir")) in release.yml.")
        }
        if termination.timedOut {
            throw ProviderError(
                .failed,
                "The \(operation) command ran longer than \(configuration.timeout) and was "
                    + "stopped\(Self.excerpt(termination.tail)).")
        }
        guard termination.status == 0 else {
            throw ProviderError(.failed, "The \(operation) command exited with status \(termination.status)\(Self.excerpt(termination.tail)).")
        }
        return DeploymentOutcome(liveReference: .object([("command", .string(operation))]), summary: "\(operation) command finished")
    }

    /// Processes still in process group `group` that were started for this deployment.
    static func leftovers(group: Int32, deploymentID: Int64) -> [Int32] {
        let marker = Array("RELEASE_DEPLOYMENT_ID=\(deploymentID)".utf8) + [0]
        return ProcessGroups.members(of: group).filter { pid in
            guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            let bytes = [UInt8](environ)
            return bytes.count >= marker.count
                && (0...(bytes.count - marker.count)).contains { start in
                    (start == 0 || bytes[start - 1] == 0) && Array(bytes[start..<(start + marker.count)]) == marker
                }
        }
    }

    /// Waits, within the command's timeout, for what the previous run started to finish; stops it after.
    private func waitForLeftover(group: Int32, deploymentID: Int64) async {
        let poller = Poller(interval: .milliseconds(200), timeout: configuration.timeout, progress: output)
        let finished = try? await poller.wait {
            Self.leftovers(group: group, deploymentID: deploymentID).isEmpty
        } report: { gone in
            gone
                ? nil
                : "The command the previous run started (process group \(group)) is still running; "
                    + "waiting for it to finish before running it again…"
        } until: { gone in
            gone ? true : nil
        } expired: { _ in
            false
        }
        if finished == true { return }
        output("It ran past the command timeout (\(configuration.timeout)); stopping it.")
        kill(-group, SIGTERM)
        try? await Task.sleep(for: configuration.stopTimeout.duration)
        if !Self.leftovers(group: group, deploymentID: deploymentID).isEmpty { kill(-group, SIGKILL) }
    }

    /// The last few output lines, short enough for a one-line error.
    static func excerpt(_ tail: [String]) -> String {
        let lines = tail.suffix(3).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !lines.isEmpty else { return "" }
        var text = lines.joined(separator: " | ")
        if text.count > 300 { text = "…" + String(text.suffix(300)) }
        return ": \(text)"
    }
}
