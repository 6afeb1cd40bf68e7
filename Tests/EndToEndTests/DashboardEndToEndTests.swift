import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `release serve` as a user runs it: the built binary over the database the CLI wrote, opened in
/// headless Chromium (Tests/Browser/browser.py), what it shows checked against the CLI's answers.
@Suite struct DashboardEndToEndTests {
    @Test func theDashboardInABrowserShowsWhatTheDatabaseSaysAndFollowsItLive() async throws {
        try await Harness.with { harness in
            // The main job: 1.0.0 through to main; 1.0.1 fails its probe on main and is rolled back.
            try await harness.startWithVersionOneOnDevelop()
            #expect(try await harness.run("promote", "develop", "main").status == 0)
            let broken = try harness.artifact("1.0.1", health: "broken-on=main")
            for arguments in [
                ["create", "1.0.1", "--commit", "def5678", "--artifact", broken], ["deploy", "1.0.1", "develop"],
                ["check", "1.0.1", "tests", "passed"],
            ] {
                #expect(try await harness.run(arguments).status == 0)
            }
            #expect(try await harness.run("promote", "develop", "main").status == 1)
            let next = try harness.artifact("1.0.2")
            #expect(try await harness.run("create", "1.0.2", "--commit", "0a1b2c3", "--artifact", next).status == 0)

            let server = try await Served.start(harness)
            defer { server.stop() }
            let loaded = harness.directory + "/browser-loaded"
            let goOn = harness.directory + "/browser-go-on"
            let shots = harness.directory
            let rows =
                "[...document.querySelectorAll('section.status tr[data-env]')].map(r => [r.dataset.env, "
                + "r.querySelector('[data-field=version]').textContent, r.querySelector('[data-field=by]').textContent, "
                + "r.querySelector('[data-field=health]').textContent])"
            let liveAt =
                "[...document.querySelectorAll('table.live-at tr[data-env]')]"
                + ".map(r => [r.dataset.env, r.querySelector('[data-field=version]').textContent])"
            let deployments =
                "[...document.querySelectorAll('table.deployments tr[data-deployment]')]"
                + ".map(r => r.dataset.deployment + ' ' + r.children[1].textContent + ' ' + r.children[4].textContent)"
            let apps =
                "[...document.querySelectorAll('div.app')].map(a => [a.dataset.app, a.querySelector('h2 a').getAttribute('href'), "
                + "[...a.querySelectorAll('tr[data-env]')].map(r => r.dataset.env + ' ' + r.querySelector('[data-field=version]').textContent)])"
            let browser = try Browser.start(
                url: server.url + "apps/crm-api",
                steps: [
                    "wait:document.querySelector('svg.timeline g.bar')",
                    "print:" + rows,
                    "print:[...document.querySelectorAll('g.lane[data-env=main] g.bar')].map(b => b.getAttribute('class') + ' ' + b.dataset.version)",
                    "screenshot:\(shots)/dashboard-app.png",
                    // Live refresh: the page stays, its environments follow the database.
                    "eval:window.stillTheSamePage = true",
                    "signal:\(loaded)",
                    "await:\(goOn)",
                    // The deploy has finished when the browser goes on, but a refresh taken while it was
                    // verifying may still be on the page: wait for the one after it.
                    "wait:document.querySelector('tr[data-env=develop] [data-field=version]').textContent === '1.0.2' "
                        + "&& document.querySelector('tr[data-env=develop] [data-field=health]').textContent !== 'verifying'",
                    "print:window.stillTheSamePage === true",
                    "print:" + rows,
                    // Pick the instant in the middle of main's red bar: 1.0.1 was live then.
                    """
                    eval:(() => { const bar = document.querySelector('g.lane[data-env=main] g.bar.failed rect').getBoundingClientRect(); \
                    document.querySelector('svg.timeline').dispatchEvent(new MouseEvent('click', {bubbles: true, \
                    clientX: bar.left + bar.width / 2, clientY: bar.top + bar.height / 2})); })()
                    """,
                    "wait:document.querySelector('table.live-at')",
                    "print:new URL(location.href).searchParams.get('at')",
                    "print:" + liveAt,
                    "goto:\(server.url)releases/1.0.1?app=crm-api",
                    "wait:document.querySelector('[data-field=trail]')",
                    "print:['commit', 'artifact', 'trail'].map(f => document.querySelector('[data-field=' + f + ']').textContent)",
                    "print:" + deployments,
                    "screenshot:\(shots)/dashboard-release.png",
                    // The overview: every app's environments, with a link to each app's page.
                    "goto:\(server.url)",
                    "wait:document.querySelector('div.app[data-app=crm-api] tr[data-env=main]')",
                    "print:" + apps,
                ])
            defer { browser.stop() }

            try await waitForFile(loaded, while: browser)
            #expect(try await harness.run("deploy", "1.0.2", "develop").status == 0)
            FileManager.default.createFile(atPath: goOn, contents: Data())
            let result = await browser.finish()
            try #require(result.status == 0, "\(result)")
            let printed = result.stdout.split(separator: "\n").map { JSONValue(parsing: String($0)) ?? .null }
            try #require(printed.count == 9, "\(result)")

            // What the page showed first, against `release status --json` then.
            #expect(printed[0] == rowsJSON([["develop", "1.0.1", "alice", "healthy"], ["main", "1.0.0", "alice", "healthy"]]))
            #expect(printed[1] == .array(["bar ok 1.0.0", "bar failed 1.0.1", "bar ok 1.0.0"].map(JSONValue.string)))
            // After the deploy, without a reload.
            #expect(printed[2] == .bool(true))
            let status = try #require(try await harness.run("status", "--json").json?["environments"]?.arrayValue)
            let expected = status.map { environment -> [String] in
                [
                    environment["name"]?.stringValue ?? "", environment["live"]?["version"]?.stringValue ?? "",
                    environment["live"]?["by"]?.stringValue ?? "", environment["health"]?.stringValue ?? "",
                ]
            }
            #expect(printed[3] == rowsJSON(expected))
            #expect(expected.first?[1] == "1.0.2")

            // The picked instant, against `release audit --at` at that instant.
            let at = try #require(printed[4].stringValue)
            let answer = try #require(try await harness.run("audit", "--at", at, "--json").json?["environments"]?.arrayValue)
            let live = answer.map { JSONValue.array([$0["name"] ?? .null, $0["version"] ?? .null]) }
            #expect(printed[5] == .array(live))
            #expect(answer.first { $0["name"]?.stringValue == "main" }?["version"]?.stringValue == "1.0.1")

            // The release page, against `release history --json` and `release audit verify`.
            #expect(printed[6] == .array(["def5678", broken, "intact"].map(JSONValue.string)))
            let history = try #require(try await harness.run("history", "--json", "--limit", "100").json?["deployments"]?.arrayValue)
            let ofRelease = history.filter { $0["version"]?.stringValue == "1.0.1" }.reversed().map { deployment in
                JSONValue.string(
                    "\(deployment["id"]?.intValue ?? 0) \(deployment["environment"]?.stringValue ?? "") \(deployment["state"]?.stringValue ?? "")")
            }
            #expect(printed[7] == .array(Array(ofRelease)))
            #expect(try await harness.run("audit", "verify").status == 0)
            #expect(
                printed[8]
                    == .array([
                        .array([
                            .string("crm-api"), .string("/apps/crm-api"),
                            .array(expected.map { JSONValue.string("\($0[0]) \($0[1])") }),
                        ])
                    ]))

            // The screenshots the docs show come from this run (RELEASE_UPDATE_SCREENSHOTS=1 keeps them).
            for name in ["dashboard-app.png", "dashboard-release.png"] {
                let data = try #require(FileManager.default.contents(atPath: "\(shots)/\(name)"))
                #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(name) is a PNG")
                if ProcessInfo.processInfo.environment["RELEASE_UPDATE_SCREENSHOTS"] == "1" {
                    try data.write(to: URL(fileURLWithPath: ProjectPaths.root + "/docs/\(name)"))
                }
            }
            // The API answers with the CLI's keys (and the app's name).
            let api = try #require(JSONValue(parsing: try await server.get("api/status?app=crm-api"))?["environments"]?.arrayValue)
            let cli = try #require(try await harness.run("status", "--json").json?["environments"]?.arrayValue)
            #expect(api.map(withoutApp) == cli)

            server.stop()
            let stopped = await server.process.finish()
            #expect(stopped.status == 0, "SIGTERM stops the server cleanly: \(stopped)")
        }
    }

    @Test func serveRefusesToShowTheNetworkWithoutAToken() async throws {
        try await Harness.with { harness in
            let before = try await harness.snapshot()
            let open = try await harness.run("serve", "--host", "0.0.0.0", "--port", "0")
            #expect(open.status == 2)
            #expect(open.stderr.contains("set RELEASE_DASHBOARD_TOKEN to a long random secret"))
            let short = try await harness.run("serve", "--host", "0.0.0.0", "--port", "0", environment: ["RELEASE_DASHBOARD_TOKEN": "abc"])
            #expect(short.status == 2)
            #expect(short.stderr.contains("too short"))
            #expect(!short.output.contains("abc\n"))
            let port = try await harness.run("serve", "--port", "70000", "--json")
            #expect(port.status == 2)
            #expect(port.json?["error"]?["message"]?.stringValue == "--port must be from 0 to 65535, not 70000.")
            let host = try await harness.run("serve", "--host", "not a host")
            #expect(host.status == 2)
            #expect(host.stderr.contains("is not an address"))
            // A port already taken: say so, and which option picks another.
            let first = try await Served.start(harness)
            defer { first.stop() }
            let taken = try #require(first.url.split(separator: ":").last?.dropLast())
            let second = try await harness.run("serve", "--port", String(taken))
            #expect(second.status == 2)
            #expect(second.stderr.contains("Port \(taken) on 127.0.0.1 is already in use: choose another with --port"))
            #expect(try await harness.snapshot() == before)
        }
    }

    @Test func aTokenedDashboardOnAnotherAddressAnswersOnlyWithItsToken() async throws {
        try await Harness.with { harness in
            try await harness.startWithVersionOneOnDevelop()
            let token = "e2e-dashboard-token-\(UUID().uuidString)"
            // Served to every address, as the read-only release_auditor role: enough for every page.
            try await AccessTests.withRole(harness, in: "release_auditor") { auditorURL in
                let server = try await Served.start(
                    harness, arguments: ["--host", "0.0.0.0", "--database-url", auditorURL],
                    environment: ["RELEASE_DASHBOARD_TOKEN": token])
                defer { server.stop() }
                #expect(server.line.contains("open it once as"))
                #expect(!server.line.contains(token), "the token is never printed")
                let local = server.url.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
                let anonymous = try await Served.fetch(local + "api/status", headers: [:])
                #expect(anonymous.status == 401)
                let bearer = ["Authorization": "Bearer \(token)"]
                let authorized = try await Served.fetch(local + "api/status", headers: bearer)
                #expect(authorized.status == 200)
                #expect(JSONValue(parsing: authorized.body)?["environments"]?.arrayValue?.first?["live"]?["version"]?.stringValue == "1.0.0")
                let page = try await Served.fetch(local + "releases/1.0.0", headers: bearer)
                #expect(page.status == 200)
                #expect(page.body.contains("<span class=\"badge healthy\" data-field=\"trail\">intact</span>"))
                server.stop()
                _ = await server.process.finish()
            }
        }
    }

    private func rowsJSON(_ rows: [[String]]) -> JSONValue {
        .array(rows.map { .array($0.map(JSONValue.string)) })
    }

    private func withoutApp(_ value: JSONValue) -> JSONValue {
        guard case let .object(pairs) = value else { return value }
        return .object(pairs.filter { $0.0 != "app" })
    }

    private func waitForFile(_ path: String, while browser: RunningCommand) async throws {
        for _ in 0..<1200 {
            if FileManager.default.fileExists(atPath: path) { return }
            if !browser.process.isRunning {
                throw TestSupportError("the browser stopped early: \(await browser.finish())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("the browser never loaded the dashboard")
    }
}

/// A running `release serve`, and the address it printed.
struct Served: Sendable {
    let process: RunningCommand
    let url: String
    let line: String

    static func start(_ harness: Harness, arguments: [String] = [], environment: [String: String] = [:]) async throws -> Served {
        let process = try harness.start(["serve", "--port", "0"] + arguments, environment: environment)
        let handle = process.stdout.fileHandleForReading
        var text = ""
        for _ in 0..<600 where !text.contains("\n") {
            let data = handle.availableData
            if data.isEmpty {
                if !process.process.isRunning { throw TestSupportError("release serve stopped: \(await process.finish())") }
                try await Task.sleep(for: .milliseconds(20))
            }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let range = text.range(of: #"http://[^ ]+/"#, options: .regularExpression) else {
            process.process.terminate()
            throw TestSupportError("release serve printed no address: \(text)")
        }
        return Served(process: process, url: String(text[range]), line: text)
    }

    func stop() {
        if process.process.isRunning { process.process.terminate() }
    }

    func get(_ path: String) async throws -> String {
        try await Self.fetch(url + path, headers: [:]).body
    }

    static func fetch(_ url: String, headers: [String: String]) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// Tests/Browser/browser.py driving headless Chromium through a list of steps.
enum Browser {
    static func start(url: String, steps: [String]) throws -> RunningCommand {
        try RunningCommand.launch(
            Python.executable,
            [
                ProjectPaths.root + "/Tests/Browser/browser.py", "--fail-on-page-error",
                "--timeout", "30", url,
            ] + steps)
    }
}

extension RunningCommand {
    /// Stops the process if it still runs (its own cleanup ends Chromium).
    func stop() {
        if process.isRunning { process.terminate() }
    }
}
