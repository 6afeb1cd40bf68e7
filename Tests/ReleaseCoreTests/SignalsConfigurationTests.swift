import Foundation
import ReleaseCore
import Testing

/// The contract's error-ratio query, as written.
let errorRatioQuery =
    #"sum(rate(http_requests_total{status=~"5..",version="{{version}}"}[{{window}}])) / "#
    + #"sum(rate(http_requests_total{version="{{version}}"}[{{window}}]))"#

/// The contract's monitors, labels, verify and markers blocks as written, in a file with the app and
/// a provider; line numbers below refer to this text.
let signalsExample = """
    app: crm-api
    monitors:
      prometheus: {url: https://prometheus.internal:9090, token_env: PROMETHEUS_TOKEN}  # bearer, optional
      datadog:    {site: datadoghq.eu}          # DD_API_KEY (events), DD_APP_KEY (queries, monitors); api_url: overrides
      sentry:     {org: acme, project: crm-api} # SENTRY_AUTH_TOKEN; url: (self-hosted or tests), default https://sentry.io
      cloudwatch: {region: eu-west-1}           # the AWS credentials and endpoints the aws provider uses
    environments:
      main:
        provider: command
        command: {deploy: ./deploy.sh}
        labels: {env: production, service: crm-api}   # {{env}}, {{service}} in queries
        verify:
          after: 2m               # wait once the health URL has passed
          for: 10m                # measure this long; 0 = one round
          every: 1m               # measurement cadence
          on_inconclusive: hold   # hold (default, exit 6) | rollback | pass
          mode: enforce           # enforce | observe (measure, record, notify, never decide)
          signals:
            - name: error-ratio
              prometheus: {query: '\(errorRatioQuery)'}
              window: 5m          # look-back, never reaching before cutover + after
              fail_if: "> 0.02"
              pass_if: "< 0.01"   # optional; between the two is inconclusive
              no_data: inconclusive   # inconclusive | pass | fail | zero
              failures: 2         # consecutive failing measurements before the signal fails
            - {name: p95, datadog: {query: "p95:trace.django.request{service:{{service}},version:{{version}}}"}, window: 5m, fail_if: "> 800ms"}
            - {name: alb-5xx, cloudwatch: {alarm: crm-api-alb-5xx}}   # OK pass, ALARM fail, INSUFFICIENT_DATA no data
            - {name: slo, datadog: {monitor: 1234567}}                # OK pass, Alert fail, Warn / No Data inconclusive
            - {name: alert, prometheus: {alert: CrmApiHighErrorRate}} # firing fail, pending inconclusive, absent pass
            - {name: new-issues, sentry: {new_issues: {level: error}}, fail_if: ">= 3", no_data: pass}
    markers:
      sentry: {release_name: "crm-api@{{version}}"}   # release on create, a deploy at every cutover
      datadog: {events: true}                          # an event at every cutover, rollback and failure
    """

/// A file with `monitors` on line 3 (by default all four, in one flow mapping), `verify` settings
/// on line 9 and the first signal on line 11.
private func verifying(_ signals: String, verify: String = "      for: 10m", monitors: String? = nil) -> String {
    let monitorLines =
        monitors ?? "  {prometheus: {url: \"https://prometheus.internal:9090\"}, datadog: {}, sentry: {org: acme, project: crm-api}, cloudwatch: }"
    return """
        app: crm-api
        monitors:
        \(monitorLines)
        environments:
          main:
            provider: command
            command: {deploy: ./deploy.sh}
            verify:
        \(verify)
              signals:
        \(signals)
        """
}

/// One signal in flow style, on line 11 of `verifying`.
private func signal(_ body: String) -> String { "        - {name: s, \(body)}" }

/// The first signal of `yaml`'s main environment.
private func firstSignal(_ yaml: String) throws -> SignalConfiguration {
    let verify = try #require(try configuration(yaml).environment(named: "main").verify)
    return try #require(verify.signals.first)
}

/// The error `yaml` gives, checked to be one line.
private func oneLineError(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    let message = configError(yaml, sourceLocation: sourceLocation)
    #expect(!message.contains("\n"), "an error is one line: \(message)", sourceLocation: sourceLocation)
    return message
}

@Suite("Signals configuration: monitors, markers, labels, verify")
struct SignalsConfigurationTests {
    // MARK: the contract's example

    @Test("the contract's monitors block parses as written")
    func exampleMonitors() throws {
        let monitors = try configuration(signalsExample).monitors
        #expect(monitors.prometheus == .init(url: "https://prometheus.internal:9090", tokenVariable: "PROMETHEUS_TOKEN"))
        #expect(monitors.datadog == .init(site: "datadoghq.eu"))
        #expect(monitors.datadog?.baseURL == "https://api.datadoghq.eu")
        #expect(monitors.sentry == .init(org: "acme", project: "crm-api", url: "https://sentry.io"))
        #expect(monitors.cloudwatch == .init(region: "eu-west-1"))
    }

    @Test("the contract's labels and verify settings parse as written")
    func exampleVerify() throws {
        let config = try configuration(signalsExample)
        let main = try config.environment(named: "main")
        #expect(main.labels == ["env": "production", "service": "crm-api"])
        #expect(main.envLabel == "production")
        #expect(config.serviceLabel(main) == "crm-api")
        let verify = try #require(main.verify)
        #expect(verify.after == .minutes(2))
        #expect(verify.duration == .minutes(10))
        #expect(verify.every == .minutes(1))
        #expect(verify.onInconclusive == .hold)
        #expect(verify.mode == .enforce)
        #expect(verify.rounds == 11)
        #expect(verify.signals.map(\.name) == ["error-ratio", "p95", "alb-5xx", "slo", "alert", "new-issues"])
    }

    @Test("the contract's six signals parse as written")
    func exampleSignals() throws {
        let signals = try #require(try configuration(signalsExample).environment(named: "main").verify).signals
        let ratio = errorRatioQuery
        #expect(
            signals[0]
                == SignalConfiguration(
                    name: "error-ratio", query: .prometheusQuery(ratio), window: .minutes(5), failIf: Threshold(.greater, 0.02),
                    passIf: Threshold(.less, 0.01), noData: .inconclusive, failures: 2))
        #expect(
            signals[1]
                == SignalConfiguration(
                    name: "p95", query: .datadogQuery("p95:trace.django.request{service:{{service}},version:{{version}}}"), window: .minutes(5),
                    failIf: Threshold(.greater, 0.8)))
        #expect(signals[1].failIf?.text == "> 0.8 (800ms)")
        #expect(signals[2] == SignalConfiguration(name: "alb-5xx", query: .cloudwatchAlarm("crm-api-alb-5xx")))
        #expect(signals[3] == SignalConfiguration(name: "slo", query: .datadogMonitor(1_234_567)))
        #expect(signals[4] == SignalConfiguration(name: "alert", query: .prometheusAlert("CrmApiHighErrorRate")))
        #expect(
            signals[5]
                == SignalConfiguration(
                    name: "new-issues", query: .sentryNewIssues(level: "error"), failIf: Threshold(.greaterOrEqual, 3), noData: .pass))
    }

    @Test("the contract's markers parse as written")
    func exampleMarkers() throws {
        let markers = try configuration(signalsExample).markers
        #expect(markers == MarkersConfiguration(sentryReleaseName: "crm-api@{{version}}", datadogEvents: true))
        #expect(!markers.isEmpty)
    }

    @Test("a file without the new blocks has no monitors, no markers, no labels and no verify")
    func absent() throws {
        let config = try configuration(contractExample)
        #expect(config.monitors == MonitorsConfiguration())
        #expect(config.markers.isEmpty)
        let main = try config.environment(named: "main")
        #expect(main.labels.isEmpty && main.verify == nil)
        #expect(main.envLabel == "main")
        #expect(config.serviceLabel(main) == "crm-api")
    }

    // MARK: monitors

    @Test("monitors' defaults: datadog.com, sentry.io, cloudwatch's region from the environment; no trailing '/'")
    func monitorDefaults() throws {
        let monitors = try configuration(
            verifying(
                signal("prometheus: {alert: A}"),
                monitors: """
                      prometheus: {url: "http://127.0.0.1:9090/"}
                      datadog:
                      sentry: {org: acme, project: crm-api, url: "https://sentry.example.com/"}
                      cloudwatch: {}
                    """)
        ).monitors
        #expect(monitors.prometheus == .init(url: "http://127.0.0.1:9090"))
        #expect(monitors.datadog == .init(site: "datadoghq.com"))
        #expect(monitors.datadog?.baseURL == "https://api.datadoghq.com")
        #expect(monitors.sentry?.url == "https://sentry.example.com")
        #expect(monitors.cloudwatch == .init(region: nil))
        #expect(MonitorsConfiguration.Sentry(org: "a", project: "b").url == "https://sentry.io")
    }

    @Test("datadog's api_url overrides the site's API")
    func datadogAPIURL() throws {
        let monitors = try configuration(
            verifying(signal("datadog: {monitor: 1}"), monitors: "  datadog: {site: us5.datadoghq.com, api_url: \"http://127.0.0.1:8126\"}")
        ).monitors
        #expect(monitors.datadog == .init(site: "us5.datadoghq.com", apiURL: "http://127.0.0.1:8126"))
        #expect(monitors.datadog?.baseURL == "http://127.0.0.1:8126")
    }

    @Test(
        "monitors errors name the line and key",
        arguments: [
            ("  prometheus: {token_env: T}", "release.yml:3: monitors.prometheus: missing key 'url': the server's base URL"),
            ("  prometheus: {url: ftp://p}", "release.yml:3: monitors.prometheus.url: expected an http:// or https:// URL, found 'ftp://p'."),
            ("  prometheus:", "release.yml:3: monitors.prometheus: expected a mapping of url, token_env."),
            ("  prometheus: {url: \"https://p:9090\", token: T}", "release.yml:3: monitors.prometheus.token: unknown key 'token'"),
            ("  datadog: {site: \"https://datadoghq.eu\"}", "release.yml:3: monitors.datadog.site: expected the Datadog site's host"),
            ("  datadog: {api_url: datadoghq.eu}", "release.yml:3: monitors.datadog.api_url: expected an http:// or https:// URL"),
            ("  datadog: {key: x}", "release.yml:3: monitors.datadog.key: unknown key 'key'; expected one of site, api_url."),
            ("  sentry: {org: acme}", "release.yml:3: monitors.sentry: missing key 'project'"),
            ("  sentry: {project: crm-api}", "release.yml:3: monitors.sentry: missing key 'org'"),
            ("  sentry: {org: acme, project: crm/api}", "release.yml:3: monitors.sentry.project: expected a slug"),
            ("  sentry: {org: acme, project: p, url: sentry.io}", "release.yml:3: monitors.sentry.url: expected an http:// or https:// URL"),
            (
                "  cloudwatch: {region: Ireland}",
                "release.yml:3: monitors.cloudwatch.region: expected an AWS region such as eu-west-1, found 'Ireland'."
            ),
            ("  cloudwatch: {regions: eu-west-1}", "release.yml:3: monitors.cloudwatch.regions: unknown key 'regions'; expected one of region."),
            (
                "  grafana: {url: \"https://g\"}",
                "release.yml:3: monitors.grafana: unknown key 'grafana'; expected one of prometheus, datadog, cloudwatch, sentry."
            ),
            ("  - prometheus", "release.yml:3: monitors: expected a mapping of prometheus, datadog, cloudwatch, sentry."),
        ])
    func monitorErrors(monitors: String, expected: String) {
        let message = oneLineError(verifying(signal("cloudwatch: {alarm: A}"), monitors: monitors))
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("a token written for token_env, or credentials in the URL, are refused without being shown")
    func secretsNotEchoed() {
        let token = oneLineError(
            verifying(signal("prometheus: {alert: A}"), monitors: "  prometheus: {url: \"https://p\", token_env: glpat-s3cr3tT0ken}"))
        #expect(token.hasPrefix("release.yml:3: monitors.prometheus.token_env: expected the name of the environment variable"), "\(token)")
        #expect(!token.contains("s3cr3t"), "\(token)")
        let lowercase = oneLineError(
            verifying(signal("prometheus: {alert: A}"), monitors: "  prometheus: {url: \"https://p\", token_env: abcdef0123456789}"))
        #expect(!lowercase.contains("abcdef0123456789"), "\(lowercase)")
        let password = oneLineError(verifying(signal("prometheus: {alert: A}"), monitors: "  prometheus: {url: \"https://u:hunter2@p:9090\"}"))
        #expect(password.hasPrefix("release.yml:3: monitors.prometheus.url: the URL must not carry a user or password"), "\(password)")
        #expect(!password.contains("hunter2"), "\(password)")
    }

    // MARK: markers

    private func withMarkers(_ markers: String, monitors: String = "  sentry: {org: acme, project: crm-api}\n  datadog: {}") -> String {
        """
        app: crm-api
        monitors:
        \(monitors)
        environments:
          main: {provider: command, command: {deploy: ./deploy.sh}}
        markers:
        \(markers)
        """
    }

    @Test("markers' defaults: the release name is the version, a datadog block means events")
    func markerDefaults() throws {
        #expect(try configuration(withMarkers("  sentry: {}")).markers == MarkersConfiguration(sentryReleaseName: "{{version}}"))
        #expect(try configuration(withMarkers("  sentry:")).markers == MarkersConfiguration(sentryReleaseName: "{{version}}"))
        #expect(try configuration(withMarkers("  datadog: {}")).markers == MarkersConfiguration(datadogEvents: true))
        #expect(try configuration(withMarkers("  datadog: {events: false}", monitors: "  {}")).markers.isEmpty)
        let both = try configuration(withMarkers("  sentry: {release_name: \"{{ version }}+{{commit}}\"}\n  datadog: {events: TRUE}")).markers
        #expect(both == MarkersConfiguration(sentryReleaseName: "{{ version }}+{{commit}}", datadogEvents: true))
    }

    @Test(
        "markers errors name the line and key, and what to add",
        arguments: [
            (
                "  sentry: {release_name: x}", "  datadog: {}",
                "release.yml:7: markers.sentry: sentry markers need the sentry connection: add monitors.sentry: "
            ),
            (
                "  datadog: {events: true}", "  sentry: {org: a, project: b}",
                "release.yml:7: markers.datadog: datadog markers need the datadog connection: add monitors.datadog"
            ),
            (
                "  sentry: {release_name: \"{{env}}-{{version}}\"}", nil,
                "release.yml:8: markers.sentry.release_name: {{env}} has no value in a release name"
            ),
            ("  sentry: {release_name: \"{{release_name}}\"}", nil, "release.yml:8: markers.sentry.release_name: {{release_name}} has no value"),
            (
                "  sentry: {release_name: \"{{versoin}}\"}", nil,
                "release.yml:8: markers.sentry.release_name: unknown template '{{versoin}}'; the templates are"
            ),
            ("  sentry: {release_name: crm-api}", nil, "release.yml:8: markers.sentry.release_name: without {{version}} or {{commit}} every release"),
            ("  sentry: {release_name: \"crm/{{version}}\"}", nil, "release.yml:8: markers.sentry.release_name: Sentry release names have no '/'"),
            ("  datadog: {events: yes}", nil, "release.yml:8: markers.datadog.events: expected true or false, found 'yes'."),
            ("  datadog: {event: true}", nil, "release.yml:8: markers.datadog.event: unknown key 'event'; expected one of events."),
            ("  github: {}", nil, "release.yml:8: markers.github: unknown key 'github'; expected one of sentry, datadog."),
        ] as [(String, String?, String)])
    func markerErrors(markers: String, monitors: String?, expected: String) {
        let yaml = monitors.map { withMarkers(markers, monitors: $0) } ?? withMarkers(markers)
        let message = oneLineError(yaml)
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("a marker's missing monitor is reported at the marker's line")
    func markerLine() {
        let message = oneLineError(withMarkers("  datadog: {events: true}\n  sentry: {}", monitors: "  datadog: {}"))
        #expect(message.hasPrefix("release.yml:8: markers.sentry: sentry markers need the sentry connection: add monitors.sentry"), "\(message)")
    }

    // MARK: labels

    @Test("labels keep every name; env and service are the templates'")
    func labels() throws {
        let yaml = verifying(signal("prometheus: {alert: A}")).replacingOccurrences(
            of: "    verify:", with: "    labels:\n      env: prod\n      service: crm\n      team: billing\n    verify:")
        let main = try configuration(yaml).environment(named: "main")
        #expect(main.labels == ["env": "prod", "service": "crm", "team": "billing"])
    }

    @Test(
        "labels errors",
        arguments: [
            ("    labels: [env, production]", "release.yml:8: environments.main.labels: expected a mapping of names to settings."),
            ("    labels: {env: {name: prod}}", "release.yml:8: environments.main.labels.env: expected a text value."),
            ("    labels: {env: \"{{version}}\"}", "release.yml:8: environments.main.labels.env: a label is a plain value"),
            ("    labels: {\"my label\": x}", "release.yml:8: environments.main.labels.my label: label names are letters"),
        ])
    func labelErrors(line: String, expected: String) {
        let yaml = verifying(signal("prometheus: {alert: A}")).replacingOccurrences(of: "    verify:", with: "\(line)\n    verify:")
        let message = oneLineError(yaml)
        #expect(message.hasPrefix(expected), "\(message)")
    }

    // MARK: verify

    @Test("verify's defaults: no wait, one round, every minute, hold, enforce; a signal's: no window, inconclusive, 2 failures")
    func verifyDefaults() throws {
        let verify = try #require(try configuration(verifying(signal("prometheus: {alert: A}"), verify: "")).environment(named: "main").verify)
        #expect(verify == VerifyConfiguration(signals: [SignalConfiguration(name: "s", query: .prometheusAlert("A"))]))
        #expect(verify.after == .zero && verify.duration == .zero && verify.every == .minutes(1))
        #expect(verify.onInconclusive == .hold && verify.mode == .enforce && verify.rounds == 1)
        let signal = verify.signals[0]
        #expect(signal.window == nil && signal.failIf == nil && signal.passIf == nil && signal.noData == .inconclusive && signal.failures == 2)
    }

    @Test("every verify setting is read; a bare 0 is no time")
    func verifySettings() throws {
        let verify = try #require(
            try configuration(
                verifying(
                    signal("prometheus: {alert: A}"),
                    verify: "      after: 0\n      for: 0\n      every: 30s\n      on_inconclusive: rollback\n      mode: observe")
            ).environment(named: "main").verify)
        #expect(verify.after == .zero && verify.duration == .zero && verify.every == .seconds(30))
        #expect(verify.onInconclusive == .rollback && verify.mode == .observe)
        let pass = try #require(
            try configuration(verifying(signal("prometheus: {alert: A}"), verify: "      after: 1m30s\n      on_inconclusive: pass"))
                .environment(named: "main").verify)
        #expect(pass.after == .seconds(90) && pass.onInconclusive == .pass)
    }

    @Test(
        "verify errors name the line and key",
        arguments: [
            ("      after: soon", "release.yml:9: environments.main.verify.after: expected a duration such as 500ms"),
            ("      for: -1m", "release.yml:9: environments.main.verify.for: expected a duration"),
            ("      every: 0s", "release.yml:9: environments.main.verify.every: expected a duration greater than zero."),
            ("      every: 0", "release.yml:9: environments.main.verify.every: expected a duration greater than zero."),
            (
                "      on_inconclusive: fail",
                "release.yml:9: environments.main.verify.on_inconclusive: expected hold, rollback or pass, found 'fail'."
            ),
            ("      mode: dry-run", "release.yml:9: environments.main.verify.mode: expected enforce or observe, found 'dry-run'."),
            ("      duration: 10m", "release.yml:9: environments.main.verify.duration: unknown key 'duration'; expected one of after, for, every"),
            (
                "      for: 30s",
                "release.yml:9: environments.main.verify.for: for: 30s is shorter than every: 1m, so there would be one measurement; write for: 0"
            ),
        ])
    func verifyErrors(verify: String, expected: String) {
        let message = oneLineError(verifying(signal("prometheus: {alert: A}"), verify: verify))
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("signals are required and not empty")
    func signalsRequired() {
        let empty = oneLineError(verifying("        []"))
        #expect(empty.hasPrefix("release.yml:11: environments.main.verify.signals: list at least one signal, or remove verify:."), "\(empty)")
        let missing = oneLineError(verifying("", verify: "      for: 10m").replacingOccurrences(of: "      signals:\n", with: ""))
        #expect(missing.hasPrefix("release.yml:9: environments.main.verify: missing key 'signals'"), "\(missing)")
        let notAList = oneLineError(verifying("        name: x"))
        #expect(notAList.hasPrefix("release.yml:11: environments.main.verify.signals: expected a list."), "\(notAList)")
    }

    // MARK: the query kinds

    @Test(
        "each service's block picks the query",
        arguments: [
            ("prometheus: {query: 'up{job=\"crm\"}'}, fail_if: \"< 1\"", SignalQuery.prometheusQuery("up{job=\"crm\"}")),
            ("prometheus: {alert: CrmApiDown}", .prometheusAlert("CrmApiDown")),
            ("datadog: {query: \"avg:x{env:{{env}}}\"}, fail_if: \"> 1\"", .datadogQuery("avg:x{env:{{env}}}")),
            ("datadog: {monitor: 42}", .datadogMonitor(42)),
            ("cloudwatch: {alarm: \"{{service}}-5xx\"}", .cloudwatchAlarm("{{service}}-5xx")),
            ("sentry: {new_issues: {}}, fail_if: \"> 0\"", .sentryNewIssues(level: nil)),
            ("sentry: {new_issues: }, fail_if: \"> 0\"", .sentryNewIssues(level: nil)),
            ("sentry: {new_issues: {level: fatal}}, fail_if: \"> 0\"", .sentryNewIssues(level: "fatal")),
            ("sentry: {errors: {}}, fail_if: \"> 10\"", .sentryErrors(query: nil)),
            ("sentry: {errors: {query: \"environment:{{env}}\"}}, fail_if: \"> 10\"", .sentryErrors(query: "environment:{{env}}")),
        ])
    func queries(body: String, expected: SignalQuery) throws {
        #expect(try firstSignal(verifying(signal(body))).query == expected)
    }

    @Test("a CloudWatch metric: namespace, name, dimensions in order with templates in their values, stat Average by default")
    func cloudwatchMetric() throws {
        let query = try firstSignal(
            verifying(
                """
                        - name: alb-5xx
                          cloudwatch:
                            metric:
                              namespace: AWS/ApplicationELB
                              name: HTTPCode_Target_5XX_Count
                              dimensions: {LoadBalancer: "app/{{service}}/123", TargetGroup: tg}
                          fail_if: "> 5"
                """)
        ).query
        #expect(
            query
                == .cloudwatchMetric(
                    CloudWatchMetric(
                        namespace: "AWS/ApplicationELB", metric: "HTTPCode_Target_5XX_Count",
                        dimensions: [("LoadBalancer", "app/{{service}}/123"), ("TargetGroup", "tg")], stat: "Average")))
        let p95 = try firstSignal(verifying(signal("cloudwatch: {metric: {namespace: N, name: M, stat: p95}}, fail_if: \"> 1s\""))).query
        #expect(p95 == .cloudwatchMetric(CloudWatchMetric(namespace: "N", metric: "M", stat: "p95")))
    }

    @Test(
        "signal errors name the line and key, and say what to do",
        arguments: [
            ("prometheus: {alert: A}, name: t", "release.yml:11: key 'name' appears"),
            (
                "fail_if: \"> 1\"",
                "release.yml:11: environments.main.verify.signals[0]: signal 's' needs one of prometheus, datadog, cloudwatch or sentry"
            ),
            (
                "prometheus: {alert: A}, datadog: {monitor: 1}",
                "release.yml:11: environments.main.verify.signals[0].datadog: signal 's' already asks prometheus; a signal asks one service"
            ),
            ("grafana: {}", "release.yml:11: environments.main.verify.signals[0].grafana: unknown key 'grafana'; expected one of name, prometheus,"),
            ("prometheus: {}", "release.yml:11: environments.main.verify.signals[0].prometheus: expected query (a PromQL expression) or alert"),
            ("prometheus: ", "release.yml:11: environments.main.verify.signals[0].prometheus: expected a mapping of query, alert."),
            ("prometheus: {query: up, alert: A}", "release.yml:11: environments.main.verify.signals[0].prometheus.alert: expected query"),
            ("prometheus: {promql: up}", "release.yml:11: environments.main.verify.signals[0].prometheus.promql: unknown key 'promql'"),
            ("datadog: {monitor: abc}", "release.yml:11: environments.main.verify.signals[0].datadog.monitor: expected the monitor's numeric id"),
            ("datadog: {monitor: 0}", "release.yml:11: environments.main.verify.signals[0].datadog.monitor: expected the monitor's numeric id"),
            ("datadog: {monitor: 1, query: x}", "release.yml:11: environments.main.verify.signals[0].datadog.query: expected query"),
            ("cloudwatch: {metric: {name: M}}", "release.yml:11: environments.main.verify.signals[0].cloudwatch.metric: missing key 'namespace'"),
            ("cloudwatch: {metric: {namespace: N}}", "release.yml:11: environments.main.verify.signals[0].cloudwatch.metric: missing key 'name'"),
            (
                "cloudwatch: {metric: {namespace: \"{{env}}\", name: M}}",
                "release.yml:11: environments.main.verify.signals[0].cloudwatch.metric.namespace: templates are not filled here"
            ),
            (
                "cloudwatch: {metric: {namespace: N, name: M, stat: average}}",
                "release.yml:11: environments.main.verify.signals[0].cloudwatch.metric.stat: CloudWatch statistics are case-sensitive: write Average."
            ),
            (
                "cloudwatch: {metric: {namespace: N, name: M, dimensions: [a]}}",
                "release.yml:11: environments.main.verify.signals[0].cloudwatch.metric.dimensions: expected a mapping"
            ),
            (
                "sentry: {new_issues: {level: critical}}",
                "release.yml:11: environments.main.verify.signals[0].sentry.new_issues.level: expected a Sentry level"
            ),
            ("sentry: {new_issues: {query: x}}", "release.yml:11: environments.main.verify.signals[0].sentry.new_issues.query: unknown key 'query'"),
            ("sentry: {errors: {level: error}}", "release.yml:11: environments.main.verify.signals[0].sentry.errors.level: unknown key 'level'"),
            ("sentry: {errors: x}", "release.yml:11: environments.main.verify.signals[0].sentry.errors: expected a mapping of query."),
            (
                "sentry: {}",
                "release.yml:11: environments.main.verify.signals[0].sentry: expected new_issues (issues first seen in the release) or errors"
            ),
        ])
    func signalErrors(body: String, expected: String) {
        let message = oneLineError(verifying(signal(body)))
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("names are required, valid and unique in the environment")
    func names() {
        let missing = oneLineError(verifying("        - {prometheus: {alert: A}}"))
        #expect(missing.hasPrefix("release.yml:11: environments.main.verify.signals[0]: missing key 'name': the signal's name"), "\(missing)")
        let invalid = oneLineError(verifying("        - {name: error ratio, prometheus: {alert: A}}"))
        #expect(invalid.hasPrefix("release.yml:11: environments.main.verify.signals[0].name: expected a name of letters, digits"), "\(invalid)")
        let twice = oneLineError(
            verifying(
                "        - {name: a, prometheus: {alert: A}}\n        - {name: b, prometheus: {alert: B}}\n        - {name: a, datadog: {monitor: 1}}"
            ))
        #expect(
            twice.hasPrefix("release.yml:13: environments.main.verify.signals[2].name: a signal called 'a' is already defined at line 11"),
            "\(twice)")
    }

    @Test("the same signal name in two environments is fine")
    func namesPerEnvironment() throws {
        let yaml =
            verifying(signal("prometheus: {alert: A}"))
            + "\n  develop:\n    provider: command\n    command: {deploy: x}\n    verify:\n      signals: [{name: s, prometheus: {alert: A}}]"
        #expect(try configuration(yaml).environments.map { $0.verify?.signals.map(\.name) } == [["s"], ["s"]])
    }

    @Test("a signal asking a service monitors: does not configure says what to add, at the service's line", arguments: Monitor.allCases)
    func unconfiguredMonitor(monitor: Monitor) {
        let body: String =
            switch monitor {
            case .prometheus: "prometheus: {alert: A}"
            case .datadog: "datadog: {monitor: 1}"
            case .cloudwatch: "cloudwatch: {alarm: A}"
            case .sentry: "sentry: {new_issues: {}}, fail_if: \"> 0\""
            }
        let message = oneLineError(
            verifying(signal(body), monitors: monitor == .cloudwatch ? "  datadog: {}" : "  cloudwatch: {}"))
        #expect(
            message.hasPrefix(
                "release.yml:11: environments.main.verify.signals[0].\(monitor.rawValue): signal 's' asks \(monitor.rawValue), which monitors: "
                    + "does not configure; add monitors.\(monitor.rawValue)"),
            "\(message)")
    }

    @Test("without monitors: at all, a signal is an error saying what to add")
    func noMonitors() {
        let message = oneLineError(
            """
            app: crm-api
            environments:
              main:
                provider: command
                command: {deploy: ./deploy.sh}
                verify:
                  signals:
                    - {name: p95, datadog: {query: "p95:x"}, fail_if: "> 1"}
            """)
        #expect(
            message.hasPrefix(
                "release.yml:8: environments.main.verify.signals[0].datadog: signal 'p95' asks datadog, which monitors: does not configure; "
                    + "add monitors.datadog: {site: datadoghq.com}."),
            "\(message)")
    }

    // MARK: templates

    @Test(
        "every template of the closed set is accepted in queries",
        arguments: ["{{version}}", "{{release_name}}", "{{commit}}", "{{env}}", "{{service}}", "{{window}}", "{{ version }}"])
    func knownTemplates(template: String) throws {
        let query = try firstSignal(verifying(signal("prometheus: {query: 'x{a=\"\(template)\"}'}, fail_if: \"> 1\""))).query
        #expect(query == .prometheusQuery("x{a=\"\(template)\"}"))
    }

    @Test("{{window}} without window: is allowed: it is then the time since cutover")
    func windowWithoutWindow() throws {
        let signal = try firstSignal(verifying(signal("prometheus: {query: 'rate(x[{{window}}])'}, fail_if: \"> 1\"")))
        #expect(signal.window == nil)
        #expect(signal.query == .prometheusQuery("rate(x[{{window}}])"))
    }

    @Test(
        "an unknown or unclosed template is an error at its key's line, naming the allowed ones",
        arguments: [
            (
                "prometheus: {query: 'x{v=\"{{versoin}}\"}'}",
                "prometheus.query: unknown template '{{versoin}}'; the templates are {{version}}, "
                    + "{{release_name}}, {{commit}}, {{env}}, {{service}}, {{window}}."
            ),
            ("prometheus: {query: 'x{v=\"{{}}\"}'}", "prometheus.query: unknown template '{{}}'"),
            ("prometheus: {alert: \"{{app}}Down\"}", "prometheus.alert: unknown template '{{app}}'"),
            ("datadog: {query: \"avg:x{version:{{version}\"}", "datadog.query: has a '{{' or '}}' that closes no template"),
            ("datadog: {query: \"avg:x{version:version}}\"}", "datadog.query: has a '{{' or '}}' that closes no template"),
            ("cloudwatch: {alarm: \"{{environment}}-5xx\"}", "cloudwatch.alarm: unknown template '{{environment}}'"),
            ("cloudwatch: {metric: {namespace: N, name: M, dimensions: {D: \"{{region}}\"}}}", "cloudwatch.metric.dimensions.D: unknown template"),
            ("sentry: {errors: {query: \"release:{{release}}\"}}", "sentry.errors.query: unknown template '{{release}}'"),
        ])
    func unknownTemplates(body: String, expected: String) {
        let message = oneLineError(verifying(signal(body + ", fail_if: \"> 1\"")))
        #expect(message.hasPrefix("release.yml:11: environments.main.verify.signals[0].\(expected)"), "\(message)")
    }

    @Test("a template error is reported at the query's own line in block style")
    func templateLine() {
        let message = oneLineError(
            verifying("        - name: s\n          fail_if: \"> 1\"\n          prometheus:\n            query: 'x{{nope}}'"))
        #expect(message.hasPrefix("release.yml:14: environments.main.verify.signals[0].prometheus.query: unknown template '{{nope}}'"), "\(message)")
    }

    // MARK: thresholds

    @Test(
        "thresholds: an operator and a number, optionally with %, ms or s; spaces optional",
        arguments: [
            ("> 0.02", Threshold(.greater, 0.02), "> 0.02"),
            (">0.02", Threshold(.greater, 0.02), "> 0.02"),
            ("  >=   3 ", Threshold(.greaterOrEqual, 3), ">= 3"),
            ("< 0.01", Threshold(.less, 0.01), "< 0.01"),
            ("<= -1.5", Threshold(.lessOrEqual, -1.5), "<= -1.5"),
            ("== 0", Threshold(.equal, 0), "== 0"),
            ("!= 1", Threshold(.notEqual, 1), "!= 1"),
            ("> 800ms", Threshold(.greater, 0.8), "> 0.8 (800ms)"),
            (">800 ms", Threshold(.greater, 0.8), "> 0.8 (800 ms)"),
            (">= 5%", Threshold(.greaterOrEqual, 0.05), ">= 0.05 (5%)"),
            ("> 1.1%", Threshold(.greater, 0.011), "> 0.011 (1.1%)"),
            ("> 0.5%", Threshold(.greater, 0.005), "> 0.005 (0.5%)"),
            ("< 2s", Threshold(.less, 2), "< 2 (2s)"),
            ("> 1.5s", Threshold(.greater, 1.5), "> 1.5 (1.5s)"),
            ("> .5", Threshold(.greater, 0.5), "> 0.5"),
            ("> 1e-3", Threshold(.greater, 0.001), "> 0.001"),
            ("> 1e3ms", Threshold(.greater, 1), "> 1 (1e3ms)"),
            ("> +2", Threshold(.greater, 2), "> 2"),
        ])
    func thresholds(text: String, expected: Threshold, shown: String) throws {
        let threshold = try #require(Threshold(parsing: text))
        #expect(threshold == expected)
        #expect(threshold.value == expected.value)
        #expect(threshold.text == shown)
    }

    @Test(
        "what is not a threshold",
        arguments: [
            "", "0.02", ">", "> ", "=> 1", "= 1", "=< 1", ">> 1", "> abc", "> 5m", "> 5 min", "> 1h", "> inf", "> nan", "> 1e400", "> 1e", "> 1.2.3",
            "> -", "> 1 2", "> 0x10", "> 5%%", "> 5 % ms", "gt 1", "< 1,5", "> ∞",
        ])
    func notThresholds(text: String) {
        #expect(Threshold(parsing: text) == nil, "\(text)")
    }

    @Test("a malformed threshold's error explains the grammar, and to quote it")
    func thresholdError() {
        let message = oneLineError(verifying(signal("prometheus: {query: up}, fail_if: \"over 2\"")))
        #expect(
            message.hasPrefix(
                "release.yml:11: environments.main.verify.signals[0].fail_if: expected an operator (>, >=, <, <=, == or !=) and a number, "
                    + "optionally followed by % (hundredths), ms (milliseconds, compared with seconds) or s, such as \"> 0.02\", \">= 5%\" or "
                    + "\"> 800ms\"; found 'over 2'. Write it in quotes"),
            "\(message)")
        let unquoted = oneLineError(verifying(signal("prometheus: {query: up}, fail_if: 5")))
        #expect(unquoted.contains("found '5'. Write it in quotes"), "\(unquoted)")
        let badNumber = oneLineError(verifying(signal("prometheus: {query: up}, fail_if: \"> 5 minutes\"")))
        #expect(badNumber.hasSuffix("found '> 5 minutes'."), "\(badNumber)")
        let list = oneLineError(verifying(signal("prometheus: {query: up}, fail_if: [\">\", 1]")))
        #expect(list.hasPrefix("release.yml:11: environments.main.verify.signals[0].fail_if: expected a text value."), "\(list)")
    }

    @Test("a number without fail_if is an error; pass_if alone is not enough", arguments: ["", ", pass_if: \"< 0.01\""])
    func failIfRequired(extra: String) {
        let message = oneLineError(verifying(signal("prometheus: {query: up}\(extra)")))
        #expect(
            message.hasPrefix(
                "release.yml:11: environments.main.verify.signals[0]: signal 's' measures a number: add fail_if, such as fail_if: \"> 0.02\""),
            "\(message)")
    }

    @Test(
        "a state signal refuses thresholds, window and no_data: zero, saying what decides it",
        arguments: [
            (
                "prometheus: {alert: A}, fail_if: \"> 0\"",
                "fail_if: signal 's' reads an alert's state (firing fails, pending is inconclusive, absent passes); it takes no fail_if"
            ),
            (
                "datadog: {monitor: 1}, pass_if: \"< 1\"",
                "pass_if: signal 's' reads a monitor's state (OK passes, Alert fails, Warn and No Data are inconclusive); it takes no pass_if"
            ),
            (
                "cloudwatch: {alarm: A}, window: 5m",
                "window: signal 's' reads an alarm's state (OK passes, ALARM fails, INSUFFICIENT_DATA is no data); it takes no window"
            ),
            (
                "cloudwatch: {alarm: A}, no_data: zero",
                "no_data: signal 's' reads an alarm's state (OK passes, ALARM fails, INSUFFICIENT_DATA is no data), which no number"
            ),
        ])
    func stateSignals(body: String, expected: String) {
        let message = oneLineError(verifying(signal(body)))
        #expect(message.hasPrefix("release.yml:11: environments.main.verify.signals[0].\(expected)"), "\(message)")
    }

    @Test("state signals take no_data and failures")
    func stateSignalSettings() throws {
        let signal = try firstSignal(verifying(signal("cloudwatch: {alarm: A}, no_data: fail, failures: 3")))
        #expect(signal == SignalConfiguration(name: "s", query: .cloudwatchAlarm("A"), noData: .fail, failures: 3))
    }

    @Test(
        "signal settings' errors",
        arguments: [
            ("window: 0s", "window: expected a duration greater than zero."),
            ("window: 5", "window: expected a duration such as 500ms"),
            ("no_data: skip", "no_data: expected inconclusive, pass, fail or zero, found 'skip'."),
            ("failures: 0", "failures: expected a whole number from 1 to 1000, found 0."),
            ("failures: two", "failures: expected a whole number from 1 to 1000."),
        ])
    func settingErrors(setting: String, expected: String) {
        let message = oneLineError(verifying(signal("prometheus: {query: up}, fail_if: \"> 1\", \(setting)")))
        #expect(message.hasPrefix("release.yml:11: environments.main.verify.signals[0].\(expected)"), "\(message)")
    }

    // MARK: overlapping fail_if and pass_if

    @Test(
        "fail_if and pass_if that some value satisfies both are an error; touching boundaries are not",
        arguments: [
            ("> 0.02", "< 0.05", true), ("> 0.02", "<= 0.02", false), ("> 0.02", "< 0.01", false), (">= 0.02", "<= 0.02", true),
            (">= 0.02", "< 0.02", false), ("> 1", "> 2", true), ("> 2", "> 1", true), ("< 1", "< 2", true), (">= 1", ">= 1", true),
            ("< 1", "> 1", false), ("<= 1", ">= 1", true), ("< 1", ">= 1", false), ("> 5", "< 3", false), ("< 3", "> 5", false),
            ("== 1", "== 1", true), ("== 1", "== 2", false), ("== 1", "!= 1", false), ("!= 1", "== 1", false), ("!= 1", "== 2", true),
            ("!= 1", "!= 1", true), ("!= 1", "!= 2", true), ("== 1", "> 0", true), ("== 1", "> 1", false), ("== 1", ">= 1", true),
            ("== 1", "< 1", false), ("!= 0", "<= 0", true), ("> 0", "== 0", false), (">= 0", "== 0", true), ("> 800ms", "< 1s", true),
            ("> 800ms", "<= 0.8s", false), ("> 5%", "<= 0.05", false), ("> 5%", "< 0.051", true),
        ])
    func overlaps(failIf: String, passIf: String, overlapping: Bool) throws {
        let fail = try #require(Threshold(parsing: failIf))
        let pass = try #require(Threshold(parsing: passIf))
        let witness = Threshold.overlap(fail, pass)
        #expect((witness != nil) == overlapping, "\(failIf) / \(passIf): \(String(describing: witness))")
        if let witness { #expect(fail.holds(for: witness) && pass.holds(for: witness)) }
        let yaml = verifying(signal("prometheus: {query: up}, fail_if: \"\(failIf)\", pass_if: \"\(passIf)\""))
        if overlapping {
            let message = oneLineError(yaml)
            #expect(
                message.hasPrefix(
                    "release.yml:11: environments.main.verify.signals[0].pass_if: fail_if \"\(failIf)\" and pass_if \"\(passIf)\" overlap: "),
                "\(message)")
        } else {
            #expect(try firstSignal(yaml).passIf == pass)
        }
    }

    @Test("overlap agrees with a dense sweep of values for every pair of comparisons")
    func overlapSweep() {
        let points = stride(from: -2.0, through: 5.0, by: 0.125).map { $0 } + [-Double.infinity, .infinity, -1e300, 1e300]
        for first in Threshold.Comparison.allCases {
            for second in Threshold.Comparison.allCases {
                for (a, b) in [(1.0, 1.0), (1.0, 2.0), (2.0, 1.0), (0.0, 3.5)] {
                    let fail = Threshold(first, a)
                    let pass = Threshold(second, b)
                    let swept = points.contains { fail.holds(for: $0) && pass.holds(for: $0) }
                    #expect((Threshold.overlap(fail, pass) != nil) == swept, "\(fail) / \(pass)")
                }
            }
        }
    }

    @Test("the overlap error names a value that would both fail and pass, and the other side of fail_if")
    func overlapMessage() {
        let message = oneLineError(verifying(signal("prometheus: {query: up}, fail_if: \"> 2%\", pass_if: \"< 5%\"")))
        #expect(
            message
                == "release.yml:11: environments.main.verify.signals[0].pass_if: fail_if \"> 2%\" and pass_if \"< 5%\" overlap: 0.035 would both "
                + "fail and pass; make pass_if the other side of fail_if, such as pass_if: \"<= 2%\", or narrower, leaving an inconclusive band.")
        let same = oneLineError(verifying(signal("prometheus: {query: up}, fail_if: \"> 1\", pass_if: \"> 2\"")))
        #expect(same.contains("overlap: 3 would both fail and pass; make pass_if the other side of fail_if, such as pass_if: \"<= 1\""), "\(same)")
    }

    // MARK: failures × every against for

    @Test("failures × every within for is fine; with for: 0 failures does not matter")
    func failuresFit() throws {
        let fits = try firstSignal(verifying(signal("prometheus: {alert: A}, failures: 10"), verify: "      for: 10m\n      every: 1m"))
        #expect(fits.failures == 10)
        let oneRound = try firstSignal(verifying(signal("prometheus: {alert: A}, failures: 50"), verify: "      for: 0"))
        #expect(oneRound.failures == 50)
        #expect(try firstSignal(verifying(signal("prometheus: {alert: A}"), verify: "      for: 2m")).failures == 2)
    }

    @Test("failures × every longer than for is an error at failures, saying the signal could never fail and what to change")
    func failuresTooMany() {
        let message = oneLineError(verifying(signal("prometheus: {alert: A}, failures: 12"), verify: "      for: 10m\n      every: 1m"))
        #expect(
            message
                == "release.yml:12: environments.main.verify.signals[0].failures: failures: 12 × every: 1m = 12m is longer than for: 10m, so signal "
                + "'s' could never fail (it is measured 11 times); lower failures to at most 10, or raise for to at least 12m.")
        let all = oneLineError(verifying(signal("prometheus: {alert: A}, failures: 11"), verify: "      for: 10m\n      every: 1m"))
        #expect(
            all.contains("11m is longer than for: 10m, so signal 's' would fail only if all 11 of its measurements failed, the first right after"),
            "\(all)")
    }

    @Test("with the default failures, the error is at the signal")
    func failuresDefault() {
        let message = oneLineError(verifying(signal("prometheus: {alert: A}"), verify: "      for: 90s"))
        #expect(
            message.hasPrefix(
                "release.yml:11: environments.main.verify.signals[0]: failures: 2 × every: 1m = 2m is longer than for: 1m30s, so signal 's' would "
                    + "fail only if all 2 of its measurements failed"),
            "\(message)")
        #expect(message.hasSuffix("lower failures to at most 1, or raise for to at least 2m."), "\(message)")
    }

    // MARK: every error is a usage error with file and line

    @Test("errors use the file name given")
    func fileName() {
        let message = oneLineError(verifying(signal("prometheus: {alert: A}, failures: 0")))
        #expect(message.hasPrefix("release.yml:11:"), "\(message)")
        do {
            _ = try ReleaseConfiguration.parse(
                yaml: verifying(signal("prometheus: {alert: \"{{x}}\"}")), file: "ops/release.yml", providers: providerNames)
            Issue.record("expected an error")
        } catch let error as ReleaseError {
            #expect(error.code == .usage)
            #expect(error.message.hasPrefix("ops/release.yml:11: "), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }
}
