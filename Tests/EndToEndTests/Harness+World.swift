import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// A fake platform from Tests/Fakes that a test can set failure modes on (see each fake's README).
protocol PlatformFake: Sendable {
    func control(_ settings: JSONValue) async throws
}

extension FakeAPI: PlatformFake {}
extension MotoWorld: PlatformFake {}

extension Harness {
    /// A platform `release` deploys to: how to start its fake, release.yml for develop and main on
    /// it, the credential variables a user exports for it, and what `release create` names as the
    /// artifact of a version there.
    struct Platform<Fake: PlatformFake>: Sendable {
        /// Starts the fake, runs `body` with it, and stops it whatever happens.
        let start: @Sendable ((Fake) async throws -> Void) async throws -> Void
        /// release.yml: develop and main on the platform, main promoted from develop and probed.
        let config: @Sendable (Fake) -> String
        /// The variables a user exports to reach the platform, with the values the fake accepts.
        let credentials: @Sendable (Fake) -> [String: String]
        /// The options of `release create VERSION` for this platform (commit, artifact).
        let createOptions: @Sendable (String) -> [String]
    }

    /// One end-to-end scenario on a platform: its fake, and a harness whose release.yml puts
    /// develop and main on it and whose environment holds the platform's credentials.
    struct World<Fake: PlatformFake>: Sendable {
        let harness: Harness
        let fake: Fake
        let platform: Platform<Fake>

        /// The credential variables set for every run, as the fake accepts them.
        var credentials: [String: String] { platform.credentials(fake) }

        /// Runs `release ARGS…` as a user with the platform's credentials runs it.
        func release(_ arguments: String..., environment: [String: String] = [:]) async throws -> Result {
            try await harness.run(arguments, environment: environment)
        }

        func release(_ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
            try await harness.run(arguments, environment: environment)
        }

        /// Runs `release ARGS…` with `credentials` in place of the platform's credential variables:
        /// a variable it leaves out is not set at all.
        func release(_ arguments: [String], credentials: [String: String]) async throws -> Result {
            var environment = harness.environment.filter { self.credentials[$0.key] == nil }
            environment.merge(credentials) { $1 }
            let command = try RunningCommand.launch(ProjectPaths.binary, arguments, environment: environment, directory: harness.directory)
            return await command.finish()
        }

        /// Starts `release ARGS…` without waiting.
        func start(_ arguments: String...) throws -> RunningCommand {
            try harness.start(arguments)
        }

        /// `release create VERSION` with `options`, by default this platform's artifact of the
        /// version, which must succeed.
        func create(_ version: String, _ options: [String]? = nil) async throws {
            try await harness.must(["create", version] + (options ?? platform.createOptions(version)))
        }

        /// Creates `version` and deploys it to develop, which must succeed.
        func deployed(_ version: String) async throws {
            try await create(version)
            try await harness.must("deploy", version, "develop")
        }

        /// Creates `version`, deploys it to develop and promotes it to main, which must succeed.
        func promoted(_ version: String) async throws {
            try await deployed(version)
            try await harness.must("promote", "develop", "main")
        }

        /// The version `release status` shows live on `environment`.
        func live(_ environment: String) async throws -> String? {
            try await harness.live(environment)
        }

        /// The smoke run every platform passes: `version` created, deployed to develop and promoted
        /// to main; `status` shows it live on both, main healthy, nothing in flight; `history`
        /// shows the deploy and the promotion live; the audit trail verifies.
        func smoke(_ version: String = "1.0.0", sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try await create(version)
            let deploy = try await release("deploy", version, "develop")
            #expect(deploy.status == 0, "\(deploy)", sourceLocation: sourceLocation)
            let promote = try await release("promote", "develop", "main")
            #expect(promote.status == 0, "\(promote)", sourceLocation: sourceLocation)
            #expect(promote.stdout.contains("\(version) is live on main"), "\(promote)", sourceLocation: sourceLocation)

            let status = try await release("status", "--json")
            let environments = status.json?["environments"]?.arrayValue ?? []
            #expect(environments.map { $0["name"]?.stringValue } == ["develop", "main"], "\(status)", sourceLocation: sourceLocation)
            for environment in environments {
                #expect(environment["live"]?["version"]?.stringValue == version, "\(status)", sourceLocation: sourceLocation)
                #expect(environment["in_flight"] == .null, "\(status)", sourceLocation: sourceLocation)
            }
            #expect(environments.last?["health"]?.stringValue == "healthy", "\(status)", sourceLocation: sourceLocation)
            let history = try await release("history", "--json")
            let deployments = (history.json?["deployments"]?.arrayValue ?? []).map { deployment in
                ["environment", "kind", "version", "state"].map { deployment[$0]?.stringValue ?? "?" }.joined(separator: " ")
            }
            #expect(
                deployments == ["main promote \(version) live", "develop deploy \(version) live"], "\(history)", sourceLocation: sourceLocation)
            let verify = try await release("audit", "verify")
            #expect(verify.status == 0, "\(verify)", sourceLocation: sourceLocation)
        }

        /// A deploy of 1.0.0 with the credential variables `unset` missing, then with the `wrong`
        /// ones, which the platform, told to, quotes back in its refusal. The first is exit 2
        /// saying `missingSays` before anything is recorded; the second exit 2 showing each of
        /// `wrongSays` (the platform's answer, the credential hidden), and neither the wrong values
        /// nor `secrets` are left anywhere (`Harness.failingDeployLeavesNoSecret`).
        func refusesCredentials(
            unset: [String], missingSays: String, wrong: [String: String], wrongSays: [String], secrets: [String: String] = [:],
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            try await create("1.0.0")
            let before = try await harness.snapshot()
            let missing = try await release(["deploy", "1.0.0", "develop"], credentials: credentials.filter { !unset.contains($0.key) })
            #expect(missing.status == 2, "\(missing)", sourceLocation: sourceLocation)
            #expect(missing.stderr.contains(missingSays), "\(missing)", sourceLocation: sourceLocation)
            #expect(try await harness.snapshot() == before, "nothing is recorded before the credentials are known", sourceLocation: sourceLocation)

            try await fake.control(.object([("echo_credentials", .bool(true))]))
            let rejected = try await harness.failingDeployLeavesNoSecret(
                config: platform.config(fake), environment: wrong, secrets: wrong.merging(secrets) { $1 })
            #expect(rejected.status == 2, "\(rejected)", sourceLocation: sourceLocation)
            for text in wrongSays {
                #expect(rejected.stderr.contains(text), "the platform's answer is shown, hidden: \(rejected)", sourceLocation: sourceLocation)
            }
        }

        /// `release deploy VERSION develop` killed with SIGKILL once it has recorded `key` of its
        /// platform operation (write-ahead), then `release recover develop`, which follows that
        /// operation to the end: VERSION is live on develop.
        func killedDeployIsRecovered(
            _ version: String = "1.0.0", recording key: String, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            try await create(version)
            let running = try start("deploy", version, "develop")
            let recorded = try await harness.waitForRecordedOperation(key)
            #expect(recorded, "the operation's \(key) is written ahead", sourceLocation: sourceLocation)
            kill(running.pid, SIGKILL)
            _ = await running.finish()
            let recover = try await release("recover", "develop")
            #expect(recover.status == 0, "\(recover)", sourceLocation: sourceLocation)
            #expect(try await live("develop") == version, sourceLocation: sourceLocation)
        }
    }

    /// Runs `body` in a world on `platform`: its fake started, a migrated database, release.yml
    /// for develop and main on it, and its credentials in every run's environment.
    static func world<Fake>(provider platform: Platform<Fake>, _ body: (World<Fake>) async throws -> Void) async throws {
        try await platform.start { fake in
            try await Harness.with(demoApps: false) { harness in
                try harness.writeConfig(platform.config(fake))
                harness.environment.merge(platform.credentials(fake)) { $1 }
                try await body(World(harness: harness, fake: fake, platform: platform))
            }
        }
    }
}

/// A commit id for a version, so that a platform that builds from commits sees one per release.
private func commit(_ version: String) -> String {
    "c0ffee" + version.filter(\.isNumber)
}

extension Harness.Platform {
    /// release.yml for develop and main on `provider`, with each environment's settings for it,
    /// and the URLs that probe them (two healthy answers 100 ms apart, within 2 s): develop's if
    /// it has one, main's always. Main is promoted from develop.
    static func pipeline(_ provider: String, develop: String, main: String, developHealth: String? = nil, mainHealth: String) -> String {
        func health(_ url: String) -> String { "    health: {url: \"\(url)\", interval: 100ms, successes: 2, within: 2s}" }
        let lines =
            ["app: crm-api", "environments:", "  develop:", "    provider: \(provider)", "    \(provider): {\(develop)}"]
            + (developHealth.map { [health($0)] } ?? [])
            + ["  main:", "    provider: \(provider)", "    \(provider): {\(main)}", "    promote_from: develop", health(mainHealth)]
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Harness.Platform where Fake == FakeAPI {
    /// Heroku (Tests/Fakes/heroku): apps crm-dev and crm-prod, built from a tarball.
    static var heroku: Self {
        Self(
            start: { body in try await FakeAPI.heroku(body) },
            config: { fake in
                pipeline(
                    "heroku", develop: "app: crm-dev, poll_interval: 50ms, timeout: 30s", main: "app: crm-prod, poll_interval: 50ms, timeout: 30s",
                    developHealth: "\(fake.url)/__apps/crm-dev/health", mainHealth: "\(fake.url)/__apps/crm-prod/health")
            },
            credentials: { fake in ["HEROKU_API_KEY": fake.apiKey, "HEROKU_API_URL": fake.url] },
            createOptions: { version in ["--commit", commit(version), "--artifact", "https://example.com/crm-\(version).tar.gz"] })
    }

    /// Railway (Tests/Fakes/railway): service svc-api of project proj-1 in two environments,
    /// deployed from commits.
    static var railway: Self {
        Self(
            start: { body in
                try await FakeAPI.railway { fake in
                    try await fake.control(.object([("project_id", .string("proj-1"))]))
                    try await body(fake)
                }
            },
            config: { fake in
                let service = "project: proj-1, service: svc-api, poll_interval: 20ms, timeout: 30s"
                return pipeline(
                    "railway", develop: "environment: env-dev, \(service)", main: "environment: env-main, \(service)",
                    developHealth: "\(fake.url)/__health/svc-api/env-dev", mainHealth: "\(fake.url)/__health/svc-api/env-main")
            },
            credentials: { fake in ["RAILWAY_API_TOKEN": fake.apiKey, "RAILWAY_API_URL": fake.url + "/graphql/v2"] },
            createOptions: { version in ["--commit", commit(version)] })
    }

    /// DigitalOcean App Platform (Tests/Fakes/digitalocean): component api of apps app-dev and
    /// app-main, deployed by image tag.
    static var digitalOcean: Self {
        Self(
            start: { body in try await FakeAPI.digitalOcean(body) },
            config: { fake in
                let component = "component: api, poll_interval: 20ms, timeout: 30s"
                return pipeline(
                    "digitalocean", develop: "app: app-dev, \(component)", main: "app: app-main, \(component)",
                    developHealth: "\(fake.url)/__health/app-dev", mainHealth: "\(fake.url)/__health/app-main")
            },
            credentials: { fake in ["DIGITALOCEAN_ACCESS_TOKEN": fake.apiKey, "DIGITALOCEAN_API_URL": fake.url] },
            createOptions: { version in ["--artifact", "crm-api:\(version)"] })
    }
}

extension Harness.Platform where Fake == MotoWorld {
    /// ECS in moto_server (Tests/Fakes/aws): services crm-api-dev and crm-api of cluster crm,
    /// deployed by image; a rollout takes `rolloutSeconds`. Only main is probed.
    static func ecs(rolloutSeconds: Double = 0.5) -> Self {
        Self(
            start: { body in try await MotoWorld.with(rolloutSeconds: rolloutSeconds, body) },
            config: { world in
                let settings = "cluster: crm, container: web, poll_interval: 100ms, timeout: 60s"
                return pipeline(
                    "aws-ecs", develop: "service: crm-api-dev, \(settings)", main: "service: crm-api, \(settings)",
                    mainHealth: world.ecsHealthURL())
            },
            credentials: { world in world.environment },
            createOptions: { version in ["--artifact", ecsImage(version)] })
    }

    /// Lambda in moto_server: function crm-api's aliases dev and live, deployed from
    /// s3://crm-artifacts/crm-api-VERSION.zip. Only main is probed.
    static var lambda: Self {
        Self(
            start: { body in try await MotoWorld.with(body) },
            config: { world in
                let settings = "function: crm-api, poll_interval: 100ms, timeout: 60s"
                return pipeline(
                    "aws-lambda", develop: "alias: dev, \(settings)", main: "alias: live, \(settings)", mainHealth: world.lambdaHealthURL())
            },
            credentials: { world in world.environment },
            createOptions: { version in ["--artifact", "s3://crm-artifacts/crm-api-\(version).zip"] })
    }

    /// The image ECS runs for a version (moto_world fails tasks of a "crashloop" image and
    /// answers main's health probe with 500 for a "broken" one).
    static func ecsImage(_ tag: String) -> String { "registry.example.com/crm-api:\(tag)" }
}
