import CommandProvider
import Foundation
import ProviderKit
import ReleaseCore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("CommandProvider")
struct CommandProviderTests {
    static let current = ReleaseRecord(
        id: 42, version: "1.4.2", commit: "9fceb02d0ae598e95dc970b74767f19372d61af8",
        artifact: "registry.example.com/crm-api@sha256:5f70bf18a086007016e948b04aed3b82103a36be",
        notes: nil, createdAt: Timestamp(seconds: 1_780_000_000), createdBy: "alice")
    static let older = ReleaseRecord(
        id: 41, version: "1.4.1", commit: "e83c5163316f89bfbde7d9ab23ca2e25604af290",
        artifact: "registry.example.com/crm-api:1.4.1",
        notes: "hotfix", createdAt: Timestamp(seconds: 1_779_000_000), createdBy: "bob")

    /// The `develop` environment of a release.yml in `directory` whose `command:` block holds `lines`.
    static func environment(in directory: String, _ lines: String...) throws -> EnvironmentConfiguration {
        let yaml = """
            app: crm-api
            environments:
              develop:
                provider: command
                command:
            \(lines.map { "      " + $0 }.joined(separator: "\n"))
            """
        let configuration = try ReleaseConfiguration.parse(yaml: yaml, file: directory + "/release.yml", providers: [CommandProvider.providerName])
        return try #require(configuration.environments.first)
    }

    static func provider(
        for environment: EnvironmentConfiguration, in directory: String,
        output: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> CommandProvider {
        CommandProvider(
            configuration: try CommandProvider.Configuration(
                reader: environment.providerSettings,
                configurationDirectory: directory),
            output: output)
    }

    static func request(
        _ environment: EnvironmentConfiguration, kind: DeploymentKind = .deploy,
        release: ReleaseRecord = current, previous: ReleaseRecord? = older
    ) -> DeploymentRequest {
        DeploymentRequest(
            app: "crm-api", environment: environment, deploymentID: 1001, kind: kind,
            release: release, previous: previous)
    }

    /// The RELEASE_* variables a script saved with `env > FILE`.
    static func releaseVariables(_ text: String?) throws -> [String: String] {
        let text = try #require(text, "the script did not write its environment")
        var variables: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where line.hasPrefix("RELEASE_") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            variables[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return variables
    }

    static let noRecording: OperationRecorder = { _ in }

    // MARK: - What the script sees

    @Test("deploy runs the command with every RELEASE_* variable set to the request's values")
    func deployEnvironment() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "env > deploy.env\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            let outcome = try await provider.deploy(Self.request(environment), record: Self.noRecording)
            let variables = try Self.releaseVariables(directory.read("deploy.env"))
            // Anything RELEASE_* the test run itself has (RELEASE_DATABASE_URL, say) is inherited.
            let inherited = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("RELEASE_") && !$0.value.contains("\n") }
            #expect(
                variables
                    == inherited.merging([
                        "RELEASE_APP": "crm-api",
                        "RELEASE_ENV": "develop",
                        "RELEASE_VERSION": "1.4.2",
                        "RELEASE_COMMIT": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                        "RELEASE_ARTIFACT": "registry.example.com/crm-api@sha256:5f70bf18a086007016e948b04aed3b82103a36be",
                        "RELEASE_PREVIOUS_VERSION": "1.4.1",
                        "RELEASE_OPERATION": "deploy",
                        "RELEASE_DEPLOYMENT_ID": "1001",
                    ]) { _, provided in provided })
            #expect(outcome.summary == "deploy command finished")
            #expect(outcome.liveReference["command"] == .string("deploy"))
        }
    }

    @Test("the first deploy, of a release without commit or artifact, sets those variables empty")
    func firstDeployEnvironment() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "env > deploy.env\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            let bare = ReleaseRecord(
                id: 1, version: "0.1.0", commit: nil, artifact: nil, notes: nil,
                createdAt: Timestamp(seconds: 1_700_000_000), createdBy: "alice")
            _ = try await provider.deploy(Self.request(environment, release: bare, previous: nil), record: Self.noRecording)
            let variables = try Self.releaseVariables(directory.read("deploy.env"))
            #expect(variables["RELEASE_VERSION"] == "0.1.0")
            #expect(variables["RELEASE_COMMIT"] == "")
            #expect(variables["RELEASE_ARTIFACT"] == "")
            #expect(variables["RELEASE_PREVIOUS_VERSION"] == "")
            #expect(variables["RELEASE_OPERATION"] == "deploy")
        }
    }

    @Test("deploys and promotions both run with RELEASE_OPERATION=deploy", arguments: [DeploymentKind.deploy, .promote])
    func promotionIsADeploy(kind: DeploymentKind) async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "env > deploy.env\n")
            try directory.write("rollback.sh", "env > rollback.env\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh", "rollback: sh rollback.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            _ = try await provider.deploy(Self.request(environment, kind: kind), record: Self.noRecording)
            let variables = try Self.releaseVariables(directory.read("deploy.env"))
            #expect(variables["RELEASE_OPERATION"] == "deploy")
            #expect(variables["RELEASE_VERSION"] == "1.4.2")
            #expect(directory.read("rollback.env") == nil, "a deploy must not run the rollback command")
        }
    }

    @Test("rollback runs the rollback command, with the older release's values")
    func rollbackUsesRollbackCommand() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "env > deploy.env\n")
            try directory.write("rollback.sh", "env > rollback.env\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh", "rollback: sh rollback.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            let outcome = try await provider.rollback(
                Self.request(environment, kind: .rollback, release: Self.older, previous: Self.current), record: Self.noRecording)
            #expect(directory.read("deploy.env") == nil, "a rollback with its own command must not run deploy")
            let variables = try Self.releaseVariables(directory.read("rollback.env"))
            #expect(variables["RELEASE_OPERATION"] == "rollback")
            #expect(variables["RELEASE_VERSION"] == "1.4.1")
            #expect(variables["RELEASE_COMMIT"] == "e83c5163316f89bfbde7d9ab23ca2e25604af290")
            #expect(variables["RELEASE_ARTIFACT"] == "registry.example.com/crm-api:1.4.1")
            #expect(variables["RELEASE_PREVIOUS_VERSION"] == "1.4.2")
            #expect(outcome.summary == "rollback command finished")
        }
    }

    @Test("without a rollback command, rollback runs deploy with RELEASE_OPERATION=rollback")
    func rollbackFallsBackToDeploy() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "env > deploy.env\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            _ = try await provider.rollback(
                Self.request(environment, kind: .rollback, release: Self.older, previous: Self.current), record: Self.noRecording)
            let variables = try Self.releaseVariables(directory.read("deploy.env"))
            #expect(variables["RELEASE_OPERATION"] == "rollback")
            #expect(variables["RELEASE_VERSION"] == "1.4.1")
            #expect(variables["RELEASE_ARTIFACT"] == "registry.example.com/crm-api:1.4.1")
            #expect(variables["RELEASE_PREVIOUS_VERSION"] == "1.4.2")
        }
    }

    @Test("the script runs in the configuration directory by default, and each output line goes to output")
    func workingDirectoryAndOutput() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "pwd -P\necho \"deploying $RELEASE_VERSION\"\necho 'warning: cache cold' >&2\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh")
            let lines = Collected<String>()
            let provider = try Self.provider(for: environment, in: directory.path, output: { lines.append($0) })
            _ = try await provider.deploy(Self.request(environment), record: Self.noRecording)
            #expect(lines.values == [directory.path, "deploying 1.4.2", "warning: cache cold"])
        }
    }

    // MARK: - Recording and resuming

    @Test("the recorder gets the command and the pid leading its process group while the command is still running")
    func recordsPidBeforeFinishing() async throws {
        try await TemporaryDirectory.with { directory in
            // The script waits for `go`, which only the recorder creates: recording after the
            // command finished would end in the 20s timeout instead.
            // The script saves its process group, which is what the recorded pid must name (a
            // later run can stop the whole group, script and children, with it).
            try directory.write("deploy.sh", "cut -d' ' -f5 /proc/$$/stat > deploy.pgid\nwhile [ ! -f go ]; do sleep 0.02; done\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh", "timeout: 20s")
            let provider = try Self.provider(for: environment, in: directory.path)
            let recorded = Collected<JSONValue>()
            let liveAtRecording = Collected<Bool>()
            _ = try await provider.deploy(Self.request(environment)) { reference in
                recorded.append(reference)
                if let pid = reference["pid"]?.intValue { liveAtRecording.append(isRunning(pid_t(pid))) }
                _ = FileManager.default.createFile(atPath: directory.file("go"), contents: Data())
            }
            let processGroup = try #require(directory.pid(in: "deploy.pgid"))
            #expect(recorded.values == [.object([("command", .string("deploy")), ("pid", .int(Int64(processGroup)))])])
            #expect(liveAtRecording.values == [true])
        }
    }

    @Test("a recorder that fails does not stop the deploy")
    func recorderFailureIsNotFatal() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "echo deployed > deployed.txt\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            let outcome = try await provider.deploy(Self.request(environment)) { _ in throw CancellationError() }
            #expect(outcome.summary == "deploy command finished")
            #expect(directory.read("deployed.txt") == "deployed\n")
        }
    }

    @Test("resume runs the deploy command again for a deploy, and the rollback command for a rollback")
    func resumeRerunsCommand() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "echo \"deploy $RELEASE_OPERATION $RELEASE_VERSION\" >> runs.txt\n")
            try directory.write("rollback.sh", "echo \"rollback $RELEASE_OPERATION $RELEASE_VERSION\" >> runs.txt\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh", "rollback: sh rollback.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            let recorded = Collected<JSONValue>()
            let recorder: OperationRecorder = { recorded.append($0) }
            let crashed: JSONValue = .object([("command", .string("deploy")), ("pid", .int(999_999))])

            _ = try await provider.resume(Self.request(environment), operation: crashed, record: recorder)
            _ = try await provider.resume(
                Self.request(environment, kind: .rollback, release: Self.older, previous: Self.current),
                operation: crashed, record: recorder)

            #expect(directory.read("runs.txt") == "deploy deploy 1.4.2\nrollback rollback 1.4.1\n")
            #expect(recorded.values.map { $0["command"] } == [.string("deploy"), .string("rollback")])
        }
    }

    // MARK: - Failures

    @Test("a failing command is a .failed error with its status and last output, kept short")
    func failingCommand() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write(
                "deploy.sh",
                """
                i=0
                while [ $i -lt 10000 ]; do echo "progress line $i of a very chatty deploy script"; i=$((i + 1)); done
                echo "error: database migration 0042 failed" >&2
                exit 3

                """)
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            let error = try await #require(throws: ProviderError.self) {
                try await provider.deploy(Self.request(environment), record: Self.noRecording)
            }
            #expect(error.kind == .failed)
            #expect(error.message.contains("status 3"))
            #expect(error.message.contains("error: database migration 0042 failed"))
            #expect(error.message.contains("progress line 9999"))
            #expect(!error.message.contains("progress line 0 "))
            #expect(error.message.count < 400, "message is \(error.message.count) characters")
        }
    }

    @Test("a failing command that prints one enormous line still gives a short message")
    func failingCommandWithHugeLine() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write(
                "deploy.sh",
                """
                i=0
                while [ $i -lt 2000 ]; do printf 'stacktrace-frame;'; i=$((i + 1)); done
                echo
                exit 1

                """)
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh")
            let provider = try Self.provider(for: environment, in: directory.path)
            let error = try await #require(throws: ProviderError.self) {
                try await provider.deploy(Self.request(environment), record: Self.noRecording)
            }
            #expect(error.kind == .failed)
            #expect(error.message.contains("status 1"))
            #expect(error.message.contains("stacktrace-frame"))
            #expect(error.message.count < 400, "message is \(error.message.count) characters")
        }
    }

    @Test("a command that runs past its timeout is stopped and reported as .failed, naming the timeout")
    func commandTimeout() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "echo 'waiting for the load balancer'\nsleep 30\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh", "timeout: 1s")
            let provider = try Self.provider(for: environment, in: directory.path)
            let clock = ContinuousClock()
            let start = clock.now
            let error = try await #require(throws: ProviderError.self) {
                try await provider.deploy(Self.request(environment), record: Self.noRecording)
            }
            #expect(error.kind == .failed)
            #expect(error.message.contains("longer than 1s"))
            #expect(error.message.contains("stopped"))
            #expect(error.message.contains("waiting for the load balancer"))
            #expect(clock.now - start < .seconds(20), "the command should be stopped at its 1s timeout")
        }
    }

    @Test("a command that ignores SIGTERM at its timeout is killed, group and all, once its stop_timeout is over")
    func stopTimeoutAfterTimeout() async throws {
        try await TemporaryDirectory.with { directory in
            try directory.write("deploy.sh", "trap '' TERM\nsleep 60 &\necho $! > background.pid\nwhile :; do sleep 0.1; done\n")
            let environment = try Self.environment(in: directory.path, "deploy: sh deploy.sh", "timeout: 1s", "stop_timeout: 1s")
            let provider = try Self.provider(for: environment, in: directory.path)
            let error = try await #require(throws: ProviderError.self) {
                try await provider.deploy(Self.request(environment), record: Self.noRecording)
            }
            #expect(error.message.contains("longer than 1s"))
            let background = try #require(directory.pid(in: "background.pid"))
            #expect(await waitUntilGone(background), "the background job that ignores SIGTERM survived")
        }
    }

    @Test("a workdir that does not exist is a configuration error pointing at command.workdir")
    func missingWorkdir() async throws {
        try await TemporaryDirectory.with { directory in
            let environment = try Self.environment(in: directory.path, "deploy: ./deploy.sh", "workdir: no-such-folder")
            let provider = try Self.provider(for: environment, in: directory.path)
            let error = try await #require(throws: ProviderError.self) {
                try await provider.deploy(Self.request(environment), record: Self.noRecording)
            }
            #expect(error.kind == .configuration)
            #expect(error.message.contains("no-such-folder"))
            #expect(error.message.contains("command.workdir"))
        }
    }

    // MARK: - Configuration

    @Test("defaults: no rollback command, a 10 minute timeout, 10 seconds to stop, and release.yml's folder as workdir")
    func configurationDefaults() throws {
        let environment = try Self.environment(in: "/srv/crm", "deploy: ./deploy.sh")
        let configuration = try CommandProvider.Configuration(reader: environment.providerSettings, configurationDirectory: "/srv/crm")
        #expect(configuration.deploy == "./deploy.sh")
        #expect(configuration.rollback == nil)
        #expect(configuration.timeout == .minutes(10))
        #expect(configuration.stopTimeout == .seconds(10))
        #expect(configuration.workdir == "/srv/crm")
    }

    @Test("explicit settings, with a relative workdir resolved against release.yml's folder")
    func configurationExplicit() throws {
        let environment = try Self.environment(
            in: "/srv/crm", "deploy: ops/deploy.sh --env develop",
            "rollback: ops/rollback.sh", "timeout: 90s", "stop_timeout: 30s", "workdir: ops/scripts")
        let configuration = try CommandProvider.Configuration(reader: environment.providerSettings, configurationDirectory: "/srv/crm")
        #expect(configuration.deploy == "ops/deploy.sh --env develop")
        #expect(configuration.rollback == "ops/rollback.sh")
        #expect(configuration.timeout == .seconds(90))
        #expect(configuration.stopTimeout == .seconds(30))
        #expect(configuration.workdir == "/srv/crm/ops/scripts")
    }

    @Test("an absolute workdir is kept as written")
    func configurationAbsoluteWorkdir() throws {
        let environment = try Self.environment(in: "/srv/crm", "deploy: ./deploy.sh", "workdir: /opt/deploy")
        let configuration = try CommandProvider.Configuration(reader: environment.providerSettings, configurationDirectory: "/srv/crm")
        #expect(configuration.workdir == "/opt/deploy")
    }

    @Test("a block without deploy is an error naming the file, the line and the missing key")
    func configurationMissingDeploy() throws {
        let yaml = """
            app: crm-api
            environments:
              develop:
                provider: command
                command: {rollback: ./rollback.sh, timeout: 5m}
            """
        let configuration = try ReleaseConfiguration.parse(yaml: yaml, file: "/srv/crm/release.yml", providers: [CommandProvider.providerName])
        let environment = try #require(configuration.environments.first)
        let error = try #require(throws: ReleaseError.self) {
            try CommandProvider.Configuration(reader: environment.providerSettings, configurationDirectory: "/srv/crm")
        }
        #expect(error.code == .usage)
        #expect(error.message.hasPrefix("/srv/crm/release.yml:5:"), "\(error.message)")
        #expect(error.message.contains("environments.develop.command"))
        #expect(error.message.contains("missing key 'deploy'"))
    }

    @Test("a misspelt key is an error naming its line and the keys that are allowed")
    func configurationUnknownKey() throws {
        let environment = try Self.environment(in: "/srv/crm", "deploy: ./deploy.sh", "timout: 5m")
        let error = try #require(throws: ReleaseError.self) {
            try CommandProvider.Configuration(reader: environment.providerSettings, configurationDirectory: "/srv/crm")
        }
        #expect(error.code == .usage)
        #expect(error.message.hasPrefix("/srv/crm/release.yml:7:"), "\(error.message)")
        #expect(error.message.contains("environments.develop.command.timout"))
        #expect(error.message.contains("timeout"))
    }

    @Test("a timeout that is not a duration is an error naming the key and what was expected")
    func configurationBadTimeout() throws {
        let environment = try Self.environment(in: "/srv/crm", "deploy: ./deploy.sh", "timeout: ten minutes")
        let error = try #require(throws: ReleaseError.self) {
            try CommandProvider.Configuration(reader: environment.providerSettings, configurationDirectory: "/srv/crm")
        }
        #expect(error.code == .usage)
        #expect(error.message.hasPrefix("/srv/crm/release.yml:7:"), "\(error.message)")
        #expect(error.message.contains("environments.develop.command.timeout"))
        #expect(error.message.contains("ten minutes"))
    }
}
