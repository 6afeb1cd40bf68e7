import Foundation
import ReleaseCore
import Testing

/// A configuration with every section; line numbers below refer to this text.
let contractExample = """
    app: crm-api                      # one database can hold many apps
    environments:
      develop:
        provider: railway             # command | heroku | railway | digitalocean | aws-ecs | aws-lambda
        railway: {project: P_ID, environment: E_ID, service: S_ID}
        health:
          url: https://crm-api-develop.up.railway.app/health/
      main:
        provider: heroku
        heroku: {app: crm-api-prod}
        promote_from: develop         # main only receives promotions (and rollbacks)
        gates:
          checks: [tests, lint]       # CI checks recorded as passed for the release
          soak: 30m                   # live and healthy on develop at least this long
          approvals: 1                # distinct approvers, never the promoter
          allowed: [alice, bob]       # who may promote or roll back here (absent: anyone)
          freeze:
            - {from: 2026-12-24T00:00:00Z, until: 2026-12-27T00:00:00Z, reason: holidays}
            - {weekly: "fri 16:00 - mon 08:00", timezone: Europe/Berlin, reason: no weekend deploys}
        health:
          url: https://crm.example.com/health/
          expect_status: 200          # default 200
          expect_body: ok             # optional substring
          timeout: 5s                 # per request, default 5s
          interval: 2s                # default 2s
          successes: 3                # consecutive passes needed, default 3
          within: 2m                  # give up after, default 2m
        on_failure: rollback          # rollback (default) | stop
        git: {branch: main, remote: origin}   # optional: fast-forward this branch to what went live
    notify:                           # optional
      webhooks:
        - {url: https://hooks.example.com/release}            # plain JSON
        - {url: https://hooks.slack.com/services/…, format: slack}
      github_issues: {repo: acme/crm-api}                      # opened when a promotion fails or a rollback happens
    """

/// The contract example with line `number` (1-based) replaced by `lines` (none to delete it).
func example(replacingLine number: Int, with lines: String...) -> String {
    var all = contractExample.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    all.replaceSubrange((number - 1)..<number, with: lines)
    return all.joined(separator: "\n")
}

/// The contract example with `lines` inserted after line `number`.
func example(insertingAfterLine number: Int, _ lines: String...) -> String {
    var all = contractExample.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    all.insert(contentsOf: lines, at: number)
    return all.joined(separator: "\n")
}

@Suite("ReleaseConfiguration")
struct ReleaseConfigurationTests {
    @Test("paths in release.yml are relative to its directory")
    func directoryOfTheFile() throws {
        func directory(_ file: String) -> String { ReleaseConfiguration(file: file, app: "crm-api", environments: []).directory }
        #expect(directory("/srv/crm/release.yml") == "/srv/crm")
        #expect(directory("/release.yml") == "/")
        #expect(directory("deploy/release.yml") == "deploy")
        #expect(directory("release.yml") == FileManager.default.currentDirectoryPath)
    }

    @Test("the contract's example parses: app and environments in file order")
    func exampleParses() throws {
        let config = try configuration(contractExample)
        #expect(config.file == "release.yml")
        #expect(config.app == "crm-api")
        #expect(config.environments.map(\.name) == ["develop", "main"])
    }

    @Test("the example's develop environment: railway, health with every default, no gates")
    func exampleDevelop() throws {
        let develop = try configuration(contractExample).environment(named: "develop")
        #expect(develop.provider == "railway")
        #expect(develop.promoteFrom == nil)
        let settings = try develop.providerSettings.mapping(allowed: ["project", "environment", "service", "api_url"])
        #expect(try settings["project"]?.string() == "P_ID")
        #expect(try settings["environment"]?.string() == "E_ID")
        #expect(try settings["service"]?.string() == "S_ID")
        #expect(develop.health == HealthCheckConfiguration(url: "https://crm-api-develop.up.railway.app/health/"))
        let health = try #require(develop.health)
        #expect(health.expectStatus == 200)
        #expect(health.expectBody == nil)
        #expect(health.timeout == .seconds(5))
        #expect(health.interval == .seconds(2))
        #expect(health.successes == 3)
        #expect(health.within == .minutes(2))
        #expect(develop.onFailure == .rollback)
        #expect(develop.gates.checks.isEmpty && develop.gates.soak == nil && develop.gates.approvals == 0)
        #expect(develop.gates.allowed == nil && develop.gates.freezes.isEmpty)
        #expect(develop.git == nil)
    }

    @Test("the example's main environment: heroku, promoted from develop, every gate, full health")
    func exampleMain() throws {
        let main = try configuration(contractExample).environment(named: "main")
        #expect(main.provider == "heroku")
        #expect(try main.providerSettings.mapping(allowed: ["app", "api_url"])["app"]?.string() == "crm-api-prod")
        #expect(main.providerSettings.path == "environments.main.heroku")
        #expect(main.promoteFrom == "develop")
        #expect(main.gates.checks == ["tests", "lint"])
        #expect(main.gates.soak == .minutes(30))
        #expect(main.gates.approvals == 1)
        #expect(main.gates.allowed == ["alice", "bob"])
        let berlin = try #require(WeeklyWindow(parsing: "fri 16:00 - mon 08:00", timeZone: "Europe/Berlin"))
        #expect(
            main.gates.freezes == [
                .once(from: try instant("2026-12-24T00:00:00Z"), until: try instant("2026-12-27T00:00:00Z"), reason: "holidays"),
                .weekly(berlin, reason: "no weekend deploys"),
            ])
        #expect(
            main.health
                == HealthCheckConfiguration(
                    url: "https://crm.example.com/health/", expectStatus: 200,
                    expectBody: "ok", timeout: .seconds(5), interval: .seconds(2),
                    successes: 3, within: .minutes(2)))
        #expect(main.onFailure == .rollback)
        #expect(main.git == GitSyncConfiguration(branch: "main", remote: "origin"))
    }

    @Test("the example's notify block is kept for the notifier, in order")
    func exampleNotify() throws {
        let notify = try configuration(contractExample).notify
        #expect(
            notify.webhooks == [
                .init(url: "https://hooks.example.com/release", format: .json),
                .init(url: "https://hooks.slack.com/services/…", format: .slack),
            ])
        #expect(notify.githubIssues == .init(repo: "acme/crm-api", labels: ["release"]))
    }

    @Test("a minimal file parses, and the file name is kept for messages")
    func minimal() throws {
        let config = try configuration(
            """
            app: demo
            environments:
              local:
                provider: command
                command: {deploy: ./deploy.sh}
            """, file: "ops/release.yml")
        #expect(config.file == "ops/release.yml")
        #expect(config.app == "demo")
        #expect(config.notify == NotifyConfiguration())
        let local = try config.environment(named: "local")
        #expect(local.health == nil)
        #expect(local.onFailure == .rollback)
    }

    @Test("environment(named:) refuses an unknown name, listing the ones that exist")
    func unknownEnvironment() throws {
        let config = try configuration(contractExample)
        #expect(throws: ReleaseError.usage("Unknown environment 'prod'; release.yml defines develop, main.")) {
            try config.environment(named: "prod")
        }
    }

    // MARK: errors, with the exact line

    @Test(
        "errors in the example name file, line and key path",
        arguments: [
            (
                example(replacingLine: 14, with: "      soak: 30 minutes"),
                "release.yml:14: environments.main.gates.soak: expected a duration such as 500ms, 30s, 5m, 2h or 1d, found '30 minutes'."
            ),
            (
                example(replacingLine: 14, with: "      soakk: 30m"),
                "release.yml:14: environments.main.gates.soakk: unknown key 'soakk'; expected one of checks, soak, approvals, allowed, freeze."
            ),
            (
                example(replacingLine: 24, with: "      time_out: 5s"),
                "release.yml:24: environments.main.health.time_out: unknown key 'time_out'"
            ),
            (
                example(replacingLine: 24, with: "      timeout: 5"),
                "release.yml:24: environments.main.health.timeout: expected a duration such as 500ms, 30s, 5m, 2h or 1d, found '5'."
            ),
            (
                example(replacingLine: 28, with: "    on_fail: rollback"),
                "release.yml:28: environments.main.on_fail: unknown key 'on_fail'"
            ),
            (
                example(replacingLine: 28, with: "    on_failure: retry"),
                "release.yml:28: environments.main.on_failure: expected rollback or stop, found 'retry'."
            ),
            (
                example(replacingLine: 30, with: "notifications:"),
                "release.yml:30: notifications: unknown key 'notifications'; expected one of app, environments, notify, monitors, markers, "
                    + "migrations."
            ),
            (
                example(replacingLine: 18, with: "        - {from: 2026-12-24T25:00:00Z, until: 2026-12-27T00:00:00Z, reason: holidays}"),
                """
                release.yml:18: environments.main.gates.freeze[0].from: expected an RFC 3339 time such as 2026-12-24T00:00:00Z, found\
                 '2026-12-24T25:00:00Z'.
                """
            ),
            (
                example(replacingLine: 18, with: "        - {from: 2026-12-24T00:00:00Z, until: next week, reason: holidays}"),
                "release.yml:18: environments.main.gates.freeze[0].until: expected an RFC 3339 time such as 2026-12-24T00:00:00Z, found 'next week'."
            ),
            (
                example(replacingLine: 19, with: "        - {weekly: \"fri 16:00 until mon 08:00\", timezone: Europe/Berlin}"),
                "release.yml:19: environments.main.gates.freeze[1].weekly: expected a weekly window such as \"fri 16:00 - mon 08:00\"."
            ),
            (
                example(replacingLine: 19, with: "        - {weekly: \"fri 16:00 - mon 08:00\", timezone: Europe/Berlinn}"),
                """
                release.yml:19: environments.main.gates.freeze[1].timezone: unknown time zone 'Europe/Berlinn'; use an IANA name such as\
                 Europe/Berlin.
                """
            ),
            (
                example(replacingLine: 9, with: "    provider: herokuu"),
                """
                release.yml:9: environments.main.provider: unknown provider 'herokuu'; expected one of command, heroku, railway, digitalocean,\
                 aws-ecs, aws-lambda.
                """
            ),
            (
                example(replacingLine: 10),
                "release.yml:9: environments.main: missing key 'heroku': the settings of the heroku provider."
            ),
            (
                example(replacingLine: 9),
                "release.yml:9: environments.main: missing key 'provider': one of command, heroku, railway, digitalocean, aws-ecs, aws-lambda."
            ),
            (
                example(insertingAfterLine: 10, "    railway: {project: P, environment: E, service: S}"),
                """
                release.yml:11: environments.main.railway: this environment uses provider 'heroku';\
                 remove the 'railway' block or change `provider:`.
                """
            ),
            (
                example(replacingLine: 11, with: "    promote_from: staging"),
                "release.yml:11: environments.main.promote_from: names 'staging', which is not an environment in this file."
            ),
            (
                example(replacingLine: 11, with: "    promote_from: main"),
                "release.yml:11: environments.main.promote_from: an environment cannot promote from itself."
            ),
            (
                example(replacingLine: 21, with: "      url: crm.example.com/health/"),
                "release.yml:21: environments.main.health.url: expected an http:// or https:// URL, found 'crm.example.com/health/'."
            ),
            (
                example(replacingLine: 15, with: "      approvals: many"),
                "release.yml:15: environments.main.gates.approvals: expected a whole number from 0 to 20."
            ),
            (
                example(replacingLine: 1, with: "app: crm api"),
                "release.yml:1: app: expected a name of letters, digits, '-', '_' or '.', at most 100 characters, found 'crm api'."
            ),
        ])
    func exampleErrors(yaml: String, expected: String) {
        let message = configError(yaml)
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("a key written twice is an error that names the key and the line where it first appears")
    func duplicateKey() {
        let message = configError(example(insertingAfterLine: 14, "      soak: 1h"))
        #expect(message == "release.yml:14: key 'soak' appears more than once in the same mapping; keep one.")
    }

    @Test("a duplicated environment is an error")
    func duplicateEnvironment() {
        let message = configError(
            example(
                insertingAfterLine: 7, "  develop:", "    provider: command",
                "    command: {deploy: ./deploy.sh}"))
        #expect(message == "release.yml:3: key 'develop' appears more than once in the same mapping; keep one.")
    }

    @Test("malformed YAML is an error that names the file, the line and the problem")
    func malformedYAML() {
        let message = configError(
            """
            app: crm-api
            environments:
              develop: {provider: command
              main: x
            """)
        #expect(
            message.hasPrefix("release.yml:4: not valid YAML: did not find expected ',' or '}' (while parsing a flow mapping at line 3)."),
            "\(message)")
    }

    @Test("bad indentation is reported with its line")
    func badIndentation() {
        let message = configError("app: crm-api\nenvironments:\n  develop:\n    provider: command\n   command: {deploy: x}\n")
        #expect(
            message
                == "release.yml:5: not valid YAML: did not find expected key (while parsing a block mapping at line 3). Fix the file and try again.")
    }

    @Test("an empty file, or one with only comments, says what it needs", arguments: ["", "\n\n", "# nothing yet\n", "---\n"])
    func emptyFile(text: String) {
        #expect(configError(text) == "release.yml is empty; it needs at least `app:` and `environments:`.")
    }

    @Test(
        "structural errors",
        arguments: [
            (
                "environments:\n  develop: {provider: command, command: {deploy: x}}\n",
                "release.yml:1: missing key 'app': the app's name, such as crm-api."
            ),
            ("app: crm-api\n", "release.yml:1: missing key 'environments'"),
            ("app: crm-api\nenvironments: {}\n", "release.yml:2: environments: define at least one environment."),
            ("app: crm-api\nenvironments: [develop, main]\n", "release.yml:2: environments: expected a mapping of names to settings."),
            ("- app\n- environments\n", "release.yml:1: expected a mapping of app, environments, notify, monitors, markers, migrations."),
            ("just text\n", "release.yml:1: expected a mapping of app, environments, notify, monitors, markers, migrations."),
            (
                "app: crm-api\nenvironments:\n  \"dev env\": {provider: command, command: {deploy: x}}\n",
                "release.yml:3: environments.dev env: environment names are letters"
            ),
            ("app: crm-api\nenvironments:\n  develop: command\n", "release.yml:3: environments.develop: expected a mapping of"),
            (
                "app: [crm-api]\nenvironments:\n  develop: {provider: command, command: {deploy: x}}\n",
                "release.yml:1: app: expected a text value."
            ),
            (
                "app: crm-api\nenvironments:\n  develop:\n    provider: command\n    command: {deploy: x}\n    promote_from: develop\n",
                "release.yml:6: environments.develop.promote_from: an environment cannot promote from itself."
            ),
            (
                """
                app: crm-api
                environments:
                  develop:
                    provider: command
                    command: {deploy: x}
                    promote_from: main
                  staging: {provider: command, command: {deploy: x}}
                  main:
                    provider: command
                    command: {deploy: x}
                    promote_from: develop

                """,
                """
                release.yml:6: environments.develop.promote_from: develop <- main <- develop promote from each other in a circle,\
                 so nothing can ever be deployed into them; the first environment of a pipeline has no promote_from.
                """
            ),
            (
                """
                app: crm-api
                environments:
                  a: {provider: command, command: {deploy: x}, promote_from: c}
                  b: {provider: command, command: {deploy: x}, promote_from: a}
                  c: {provider: command, command: {deploy: x}, promote_from: b}

                """,
                "release.yml:3: environments.a.promote_from: a <- c <- b <- a promote from each other in a circle"
            ),
        ])
    func structuralErrors(yaml: String, expected: String) {
        let message = configError(yaml)
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("environments keep the order of the file, not alphabetical")
    func order() throws {
        let config = try configuration(
            """
            app: crm-api
            environments:
              zeta: {provider: command, command: {deploy: x}}
              alpha: {provider: command, command: {deploy: x}, promote_from: zeta}
              mid: {provider: command, command: {deploy: x}, promote_from: alpha}
            """)
        #expect(config.environments.map(\.name) == ["zeta", "alpha", "mid"])
        #expect(config.environments.map(\.promoteFrom) == [nil, "zeta", "alpha"])
    }

    @Test(
        "Identifier accepts names of letters, digits and -_.@/ starting with a letter or digit",
        arguments: [
            ("crm-api", true), ("crm_api.v2", true), ("7eleven", true), ("ci/build", true), ("user@example", true),
            ("", false), ("-api", false), (".hidden", false), ("crm api", false), ("crm:api", false), ("crmé", false),
            (String(repeating: "a", count: 100), true), (String(repeating: "a", count: 101), false),
        ])
    func identifiers(name: String, valid: Bool) {
        #expect(Identifier.isValid(name) == valid, "\(name)")
    }

    @Test(
        "actors are identifiers, or a GitHub App's name[bot]",
        arguments: [
            ("alice", true), ("dependabot[bot]", true), ("renovate[bot]", true), ("[bot]", false), ("x[bot][bot]", false),
            ("al ice", false), ("alice[admin]", false),
        ])
    func actors(name: String, valid: Bool) {
        #expect(Identifier.isValidActor(name) == valid, "\(name)")
    }

    @Test(
        "notify and git mistakes name the line and say what is expected",
        arguments: [
            ("notify: {webhooks: [{url: ftp://x}]}", "expected an http:// or https:// URL"),
            ("notify: {webhooks: [{url: https://x, format: teams}]}", "expected json or slack"),
            ("notify: {webhooks: [{uri: https://x}]}", "uri"),
            ("notify: {github_issues: {repo: acme}}", "expected owner/name"),
            ("notify: {github_issues: {repo: acme/crm/api}}", "expected owner/name"),
            ("notify: {slack: https://x}", "slack"),
        ])
    func notifyErrors(block: String, message: String) throws {
        let text = """
            app: crm-api
            environments:
              develop:
                provider: command
                command: {deploy: "true"}
            \(block)
            """
        #expect {
            _ = try configuration(text)
        } throws: { error in
            let text = "\(error)"
            return text.contains(message) && text.contains("release.yml:")
        }
    }

    @Test(
        "git branch names that git or a shell would misread are refused",
        arguments: [
            ("main", true), ("release/2026", true), ("-f", false), ("main..x", false), ("a b", false), ("x:y", false), ("HEAD@{1}", false),
        ])
    func gitBranches(branch: String, valid: Bool) {
        #expect(GitSyncConfiguration.isSafeRef(branch) == valid)
    }
}
