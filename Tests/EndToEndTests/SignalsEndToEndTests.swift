import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// Verification by signals and deploy markers, through the binary, against fake Prometheus,
/// Datadog and Sentry servers that check every request against the services' descriptions.
@Suite struct SignalsEndToEndTests {
    /// The query main's error-ratio signal asks: the fake answers it by the version it names.
    static let errorRatio =
        #"sum(rate(http_requests_total{status=~"5..",version="{{version}}"}[{{window}}])) / "#
        + #"sum(rate(http_requests_total{version="{{version}}"}[{{window}}]))"#

    /// The error-ratio signal on Prometheus: fails above 2% twice in a row, passes below 1%.
    static let errorRatioSignal = """
                - name: error-ratio
                  prometheus: {query: '\(errorRatio)'}
                  window: 5m
                  fail_if: "> 0.02"
                  pass_if: "< 0.01"
        """

    /// release.yml: the harness's develop and main, `monitors:` and `markers:` as given, and main
    /// verified by `signals` (YAML list items), by default three times 300 ms apart.
    static func config(
        _ harness: Harness, monitors: String, markers: String = "", verify: String = "      for: 600ms\n      every: 300ms",
        signals: String = errorRatioSignal
    ) -> String {
        let environments = harness.defaultConfig(mainGates: "checks: [], allowed: [alice, ci]").replacingOccurrences(of: "app: crm-api\n", with: "")
        return "app: crm-api\nmonitors:\n\(monitors)\n\(markers)\(environments)"
            + "    labels: {env: production, service: crm-api}\n    verify:\n\(verify)\n      signals:\n\(signals)\n"
    }

    /// A scenario: the harness, a fake Prometheus (which wants a token), and release.yml verifying
    /// main by its error ratio (`verify` replaces the cadence; more keys may follow it).
    static func withPrometheus(
        verify: String = "      for: 600ms\n      every: 300ms", markers: String = "", extra: [String: String] = [:],
        _ body: (Harness, FakeAPI) async throws -> Void
    ) async throws {
        try await Harness.with { harness in
            try await FakeAPI.prometheus(requireToken: true) { prometheus in
                var harness = harness
                harness.environment["PROMETHEUS_TOKEN"] = prometheus.apiKey
                harness.environment.merge(extra) { $1 }
                try harness.writeConfig(
                    config(
                        harness, monitors: "  prometheus: {url: \"\(prometheus.url)\", token_env: PROMETHEUS_TOKEN}", markers: markers,
                        verify: verify))
                try await body(harness, prometheus)
            }
        }
    }

    /// Sets the error ratio each version's queries get, one answer per measurement (the last repeats).
    static func errorRatios(_ prometheus: FakeAPI, _ values: [String: [JSONValue]]) async throws {
        try await prometheus.control(.object([("values", .object(values.map { ("version=\"\($0.key)\"", .array($0.value)) }))]))
    }

    /// 1.0.0 promoted to main while its error ratio is low: the release to roll back to.
    static func firstRelease(_ harness: Harness, _ prometheus: FakeAPI, then: [String: [JSONValue]] = [:]) async throws {
        try await errorRatios(prometheus, ["1.0.0": [.double(0.001)]].merging(then) { $1 })
        try await harness.createAndDeploy("1.0.0")
        try await harness.must("promote", "develop", "main")
    }

    /// `history main --json`'s deployment of `version` (the newest).
    static func deployment(_ harness: Harness, _ version: String) async throws -> JSONValue {
        let history = try await harness.run("history", "main", "--json").json?["deployments"]?.arrayValue ?? []
        return try #require(history.first { $0["version"]?.stringValue == version && $0["kind"]?.stringValue != "rollback" })
    }

    @Test func aFailingSignalRollsBackAndNoQueryLooksBeforeTheCutover() async throws {
        try await Self.withPrometheus { harness, prometheus in
            try await Self.firstRelease(harness, prometheus, then: ["1.0.1": [.double(0.3), .double(0.25)]])
            try await harness.createAndDeploy("1.0.1")
            let promoted = try await harness.run("promote", "develop", "main")
            #expect(promoted.status == 1, "\(promoted)")
            #expect(promoted.stderr.contains("error-ratio fail (0.25 > 0.02, 2 failing measurements in a row; asked: sum(rate("), "\(promoted)")
            #expect(promoted.stderr.contains("main was rolled back to 1.0.0 and is healthy"), "\(promoted)")
            #expect(try await harness.served("main") == "1.0.0")
            let failed = try await Self.deployment(harness, "1.0.1")
            #expect(failed["state"]?.stringValue == "rolled_back")
            #expect(failed["verification"]?["verdict"]?.stringValue == "fail")
            let signal = try #require(failed["verification"]?["signals"]?.arrayValue?.first)
            #expect(signal["name"]?.stringValue == "error-ratio" && signal["verdict"]?.stringValue == "fail")
            #expect(signal["value"] == .double(0.25))
            #expect(signal["measurements"] == .int(2))

            // Every query named its version and looked back no further than that version's cutover.
            let events = try await harness.run("audit", "--json").json?["events"]?.arrayValue ?? []
            var cutovers: [String: Double] = [:]
            for event in events where event["action"]?.stringValue == "promote.cutover" {
                let since = try #require(event["details"]?["live_since"]?.stringValue.flatMap(Timestamp.init(parsing:)))
                cutovers[event["version"]?.stringValue ?? ""] = Double(since.microseconds) / 1_000_000
            }
            let queries = try await prometheus.logged("/api/v1/query")
            #expect(queries.count == 5, "three rounds for 1.0.0, then two failing ones for 1.0.1")
            for request in queries {
                let query = try #require(request["params"]?["query"]?.stringValue)
                let time = try #require(request["params"]?["time"]?.stringValue.flatMap(Double.init))
                let version = try #require(query.firstMatch(of: /version="([^"]+)"/).map { String($0.1) })
                let range = try #require(query.firstMatch(of: /\[(\d+)(ms|s)\]/))
                let window = try #require(Double(range.1)) / (range.2 == "ms" ? 1000 : 1)
                let cutover = try #require(cutovers[version])
                #expect(window < 300, "\(query): clipped to the time since cutover, not the 5m asked")
                #expect(time - window >= cutover - 0.001, "\(query) at \(time) looks back before \(version)'s cutover at \(cutover)")
            }
        }
    }

    @Test func oneBlipDoesNotRollBack() async throws {
        try await Self.withPrometheus { harness, prometheus in
            try await Self.firstRelease(harness, prometheus, then: ["1.0.1": [.double(0.4), .double(0.003)]])
            try await harness.createAndDeploy("1.0.1")
            let promoted = try await harness.run("promote", "develop", "main")
            #expect(promoted.status == 0, "\(promoted)")
            #expect(promoted.stdout.contains("1.0.1 is live on main"), "\(promoted)")
            let deployment = try await Self.deployment(harness, "1.0.1")
            #expect(deployment["verification"]?["verdict"]?.stringValue == "pass")
            #expect(deployment["verification"]?["signals"]?.arrayValue?.first?["measurements"] == .int(3))
        }
    }

    @Test func noDataHoldsTheReleaseWithExitSixUntilSomeoneAcceptsIt() async throws {
        try await Self.withPrometheus { harness, prometheus in
            try await Self.firstRelease(harness, prometheus, then: ["1.0.1": [.null]])
            try await harness.createAndDeploy("1.0.1")
            let promoted = try await harness.run("promote", "develop", "main", "--json")
            #expect(promoted.status == 6, "\(promoted)")
            #expect(promoted.json?["error"]?["kind"]?.stringValue == "held")
            #expect(promoted.json?["error"]?["message"]?.stringValue?.contains("error-ratio inconclusive (no data") == true, "\(promoted)")
            #expect(try await harness.served("main") == "1.0.1", "held: still live")
            let status = try #require(try await harness.run("status", "main", "--json").json?["environments"]?.arrayValue?.first)
            #expect(status["health"]?.stringValue == "held")
            #expect(status["verification"]?["verdict"]?.stringValue == "inconclusive")

            let noReason = try await harness.run("accept", "main")
            #expect(noReason.status == 2 && noReason.stderr.contains("--reason"), "\(noReason)")
            let refused = try await harness.run("accept", "main", "--reason", "I say so", environment: ["RELEASE_ACTOR": "mallory"])
            #expect(refused.status == 3 && refused.stderr.contains("mallory may not operate on main"), "\(refused)")
            let accepted = try await harness.run("accept", "main", "--reason", "quiet night; logs clean")
            #expect(accepted.status == 0 && accepted.stdout.contains("1.0.1 on main is verified: accepted by alice"), "\(accepted)")
            let again = try await harness.run("accept", "main", "--reason", "twice")
            #expect(again.status == 2 && again.stderr.contains("verified already"), "\(again)")
            let after = try #require(try await harness.run("status", "main", "--json").json?["environments"]?.arrayValue?.first)
            #expect(after["verification"]?["verdict"]?.stringValue == "pass")
            #expect(after["verification"]?["accepted_at"] != .null)
            let actions = (try await harness.run("audit", "--json").json?["events"]?.arrayValue ?? []).compactMap { $0["action"]?.stringValue }
            #expect(actions.contains("promote.held") && actions.contains("deployment.accepted"))
        }
    }

    @Test func aSourceFailingTheWholeTimeIsInconclusiveNeverAPass() async throws {
        for status in [500, 429] {
            try await Self.withPrometheus { harness, prometheus in
                try await Self.firstRelease(harness, prometheus)
                try await harness.createAndDeploy("1.0.1")
                try await prometheus.control(.object([("fail_all", .int(Int64(status))), ("retry_after", .int(0))]))
                let promoted = try await harness.run("promote", "develop", "main")
                #expect(promoted.status == 6, "HTTP \(status): \(promoted)")
                #expect(promoted.stderr.contains("error-ratio inconclusive (measuring failed: "), "\(promoted)")
                #expect(!promoted.output.contains(prometheus.apiKey), "the token never shows")
                let deployment = try await Self.deployment(harness, "1.0.1")
                #expect(deployment["state"]?.stringValue == "live")
                #expect(deployment["verification"]?["verdict"]?.stringValue == "inconclusive")
            }
        }
    }

    @Test func observeModeRecordsAFailingSignalButNeverDecides() async throws {
        try await Self.withPrometheus(verify: "      for: 600ms\n      every: 300ms\n      mode: observe") { harness, prometheus in
            try await Self.firstRelease(harness, prometheus, then: ["1.0.1": [.double(0.5)]])
            try await harness.createAndDeploy("1.0.1")
            let promoted = try await harness.run("promote", "develop", "main")
            #expect(promoted.status == 0, "\(promoted)")
            let signal = try #require(try await Self.deployment(harness, "1.0.1")["verification"]?["signals"]?.arrayValue?.first)
            #expect(signal["verdict"]?.stringValue == "fail")
            #expect(signal["enforcing"] == .bool(false))
        }
    }

    @Test func watchCatchesASignalThatTurnsBad() async throws {
        try await Self.withPrometheus { harness, prometheus in
            try await Self.firstRelease(harness, prometheus, then: ["1.0.1": [.double(0.002)]])
            try await harness.createAndDeploy("1.0.1")
            try await harness.must("promote", "develop", "main")
            try await Self.errorRatios(prometheus, ["1.0.1": [.double(0.002), .double(0.2)]])
            let watched = try await harness.run("watch", "main", "--for", "20s")
            #expect(watched.status == 1, "\(watched)")
            #expect(watched.stderr.contains("1.0.1 failed its signals on main during the watch (error-ratio: "), "\(watched)")
            #expect(try await harness.served("main") == "1.0.0")
        }
    }

    @Test func verifyMeasuresWhatIsLiveAgain() async throws {
        try await Self.withPrometheus { harness, prometheus in
            try await Self.firstRelease(harness, prometheus)
            let passed = try await harness.run("verify", "main")
            #expect(passed.status == 0 && passed.stdout.contains("1.0.0 on main passed its signals"), "\(passed)")
            let unknown = try await harness.run("verify", "staging")
            #expect(unknown.status == 2, "\(unknown)")
        }
    }
}

/// Datadog and Sentry, as sources and as deploy markers, through the binary.
@Suite struct MarkersEndToEndTests {
    /// A scenario with fake Datadog and Sentry: main verified by a Datadog query, a Datadog
    /// monitor and Sentry's new issues, and every deploy marked in both.
    static func withServices(_ body: (Harness, _ datadog: FakeAPI, _ sentry: FakeAPI) async throws -> Void) async throws {
        try await Harness.with { harness in
            try await FakeAPI.datadog { datadog in
                try await FakeAPI.sentry { sentry in
                    var harness = harness
                    harness.environment.merge(["DD_API_KEY": datadog.apiKey, "DD_APP_KEY": datadog.appKey, "SENTRY_AUTH_TOKEN": sentry.apiKey]) {
                        $1
                    }
                    let signals = """
                                - name: p95
                                  datadog: {query: "p95:trace.django.request{service:{{service}},version:{{version}}}"}
                                  window: 5m
                                  fail_if: "> 800ms"
                                - {name: slo, datadog: {monitor: 1234567}}
                                - {name: new-issues, sentry: {new_issues: {level: error}}, fail_if: ">= 3", no_data: pass}
                        """
                    try harness.writeConfig(
                        SignalsEndToEndTests.config(
                            harness,
                            monitors: "  datadog: {api_url: \"\(datadog.url)\"}\n  sentry: {org: acme, project: crm-api, url: \"\(sentry.url)\"}",
                            markers: "markers:\n  sentry: {release_name: \"crm-api@{{version}}\"}\n  datadog: {events: true}\n",
                            verify: "      for: 0s", signals: signals))
                    try await body(harness, datadog, sentry)
                }
            }
        }
    }

    @Test func everyDeployIsMarkedAndAFailingMonitorRollsBack() async throws {
        try await Self.withServices { harness, datadog, sentry in
            try await datadog.control(#"{"values": {"version:1.0.0": 0.31, "version:1.0.1": 0.2}, "monitors": {"1234567": "OK"}}"#)
            try await sentry.control(#"{"new_issues": {"crm-api@1.0.0": 0, "crm-api@1.0.1": 1}}"#)
            try await harness.createAndDeploy("1.0.0")
            let promoted = try await harness.run("promote", "develop", "main")
            #expect(promoted.status == 0, "\(promoted)")
            #expect(promoted.stdout.contains("p95 pass (0.31, not > 0.8 (800ms))"), "\(promoted)")
            #expect(promoted.stdout.contains("slo pass (OK)") && promoted.stdout.contains("new-issues pass (0, not >= 3)"), "\(promoted)")

            try await datadog.control(#"{"monitors": {"1234567": "Alert"}}"#)
            try await harness.createAndDeploy("1.0.1")
            let failed = try await harness.run("promote", "develop", "main")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("slo fail (Alert"), "\(failed)")
            #expect(try await harness.served("main") == "1.0.0")

            // Sentry: a release per version at create, a deploy at every cutover (the rollback's too).
            let releases = try #require(try await sentry.state()["releases"]?.arrayValue)
            #expect(releases.compactMap { $0["version"]?.stringValue } == ["crm-api@1.0.0", "crm-api@1.0.1"])
            let deploys = releases.flatMap { release in
                (release["deploys"]?.arrayValue ?? []).map { "\(release["version"]?.stringValue ?? "?") \($0["environment"]?.stringValue ?? "?")" }
            }
            #expect(
                deploys.sorted() == [
                    "crm-api@1.0.0 develop", "crm-api@1.0.0 production", "crm-api@1.0.0 production", "crm-api@1.0.1 develop",
                    "crm-api@1.0.1 production",
                ])
            // Datadog: an event at every cutover, the failed verification and the rollback, tagged.
            let events = try #require(try await datadog.state()["events"]?.arrayValue)
            let tags = events.map { ($0["tags"]?.arrayValue ?? []).compactMap(\.stringValue) }
            #expect(events.count == 6, "\(events)")
            #expect(tags.filter { $0.contains("env:production") && $0.contains("version:1.0.1") }.count == 2, "cutover and failure")
            #expect(events.contains { $0["alert_type"]?.stringValue == "error" })
            #expect(tags.allSatisfy { $0.contains("service:crm-api") })
            // The tokens reached no output and no stored row.
            let audit = try await harness.run("audit", "--json")
            for secret in [datadog.apiKey, datadog.appKey, sentry.apiKey] {
                #expect(!(promoted.output + failed.output + audit.stdout).contains(secret))
            }
        }
    }

    @Test func aMarkerServiceThatIsDownNeverFailsTheOperation() async throws {
        try await Self.withServices { harness, datadog, sentry in
            try await datadog.control(#"{"values": {"version:": 0.2}, "monitors": {"1234567": "OK"}}"#)
            try await sentry.control(#"{"fail_all": 503}"#)
            let created = try await harness.run("create", "1.0.0", "--artifact", try harness.artifact("1.0.0"))
            #expect(created.status == 0, "\(created)")
            #expect(created.stderr.contains("Warning: the Sentry marker for 1.0.0 (created) was not written after 3 tries"), "\(created)")
            try await sentry.control(#"{"fail_all": null}"#)
            try await datadog.control(#"{"fail_all": 500}"#)
            let deployed = try await harness.run("deploy", "1.0.0", "develop")
            #expect(deployed.status == 0, "\(deployed)")
            #expect(deployed.stderr.contains("Warning: the Datadog marker for 1.0.0 (cutover) was not written after 3 tries"), "\(deployed)")
            let events = try await harness.run("audit", "--json").json?["events"]?.arrayValue ?? []
            let failures = events.filter { $0["action"]?.stringValue == "marker.failed" }.compactMap { $0["details"]?["service"]?.stringValue }
            #expect(failures == ["Sentry", "Datadog"])
        }
    }

    @Test func aRejectedKeyIsAConfigurationErrorNamingTheVariable() async throws {
        try await Self.withServices { harness, datadog, sentry in
            try await datadog.control(#"{"values": {"version:": 0.2}, "monitors": {"1234567": "OK"}}"#)
            try await harness.createAndDeploy("1.0.0")
            let missing = try await harness.run("promote", "develop", "main", environment: ["DD_APP_KEY": ""])
            #expect(missing.status == 2 && missing.stderr.contains("DD_APP_KEY is not set"), "\(missing)")
            #expect(try await harness.live("main") == nil, "nothing started")
            let wrong = try await harness.run("promote", "develop", "main", environment: ["DD_APP_KEY": "not-the-key"])
            #expect(wrong.status == 2, "\(wrong)")
            #expect(wrong.stderr.contains("DD_APP_KEY"), "\(wrong)")
            #expect(!wrong.output.contains("not-the-key"))
        }
    }
}

/// A CloudWatch alarm as a signal, through the binary, against moto.
@Suite struct CloudWatchEndToEndTests {
    @Test func anAlarmInAlarmRollsBackAndInsufficientDataHolds() async throws {
        try await Harness.with { harness in
            try await MotoWorld.with { world in
                var harness = harness
                harness.environment.merge(world.environment) { $1 }
                try harness.writeConfig(
                    SignalsEndToEndTests.config(
                        harness, monitors: "  cloudwatch: {region: \(world.region)}", verify: "      for: 0s",
                        signals: "        - {name: alb-5xx, cloudwatch: {alarm: \(world.alarm)}}"))
                try await harness.createAndDeploy("1.0.0")
                let promoted = try await harness.run("promote", "develop", "main")
                #expect(promoted.status == 0 && promoted.stdout.contains("alb-5xx pass (OK"), "moto starts alarms in OK: \(promoted)")

                try await world.control(.object([("alarm_states", .object([(world.alarm, .string("ALARM"))]))]))
                try await harness.createAndDeploy("1.0.1")
                let failed = try await harness.run("promote", "develop", "main")
                #expect(failed.status == 1 && failed.stderr.contains("alb-5xx fail (ALARM"), "\(failed)")
                #expect(try await harness.served("main") == "1.0.0")

                try await world.control(.object([("alarm_states", .object([(world.alarm, .string("INSUFFICIENT_DATA"))]))]))
                try await harness.createAndDeploy("1.0.2")
                let held = try await harness.run("promote", "develop", "main")
                #expect(held.status == 6 && held.stderr.contains("alb-5xx inconclusive (no data"), "\(held)")
                #expect(!(promoted.output + failed.output + held.output).contains(world.secretAccessKey))
            }
        }
    }
}
