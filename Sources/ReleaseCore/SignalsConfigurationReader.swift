/// Reading release.yml's `monitors:`, `markers:`, and each environment's `labels:` and `verify:`,
/// with errors that name the file, the line and the key, like every other block.

extension MonitorsConfiguration {
    /// Reads and validates `monitors:`. A service is configured when its key is written, even
    /// empty (`cloudwatch:` alone uses AWS_REGION). URLs lose any trailing `/`.
    public init(reader: ConfigReader) throws {
        let entries = try reader.mapping(allowed: Monitor.allCases.map(\.rawValue))
        self.init()
        if let block = entries.written("prometheus") {
            let fields = try block.mapping(allowed: ["url", "token_env"])
            let url = try Self.url(try fields.required("url", "the server's base URL, such as https://prometheus.internal:9090"))
            var tokenVariable: String?
            if let variableReader = fields["token_env"] {
                let name = try variableReader.string()
                // Never echoed: a token written here by mistake must not reach a terminal or a log.
                guard Self.isVariableName(name) else {
                    throw variableReader.error(
                        "expected the name of the environment variable holding the bearer token (upper-case letters, digits and '_', "
                            + "such as PROMETHEUS_TOKEN), never the token itself.")
                }
                tokenVariable = name
            }
            prometheus = Prometheus(url: url, tokenVariable: tokenVariable)
        }
        if let block = entries.written("datadog") {
            let fields = try block.isNull ? nil : block.mapping(allowed: ["site", "api_url"])
            var site = "datadoghq.com"
            if let siteReader = fields?["site"] {
                site = try siteReader.string()
                guard Self.isHost(site) else {
                    throw siteReader.error(
                        "expected the Datadog site's host, such as datadoghq.com or datadoghq.eu, found '\(Identifier.shown(site))'; "
                            + "api_url takes a full URL.")
                }
            }
            datadog = Datadog(site: site, apiURL: try fields?["api_url"].map(Self.url))
        }
        if let block = entries.written("sentry") {
            let fields = try block.mapping(allowed: ["org", "project", "url"])
            let org = try Self.slug(try fields.required("org", "the organization's slug, such as acme"))
            let project = try Self.slug(try fields.required("project", "the project's slug, such as crm-api"))
            sentry = Sentry(org: org, project: project, url: try fields["url"].map(Self.url) ?? "https://sentry.io")
        }
        if let block = entries.written("cloudwatch") {
            let fields = try block.isNull ? nil : block.mapping(allowed: ["region"])
            var region: String?
            if let regionReader = fields?["region"] {
                let text = try regionReader.string()
                guard Self.isRegion(text) else {
                    throw regionReader.error("expected an AWS region such as eu-west-1, found '\(Identifier.shown(text))'.")
                }
                region = text
            }
            cloudwatch = CloudWatch(region: region)
        }
    }

    /// Whether `monitor` has a block.
    public func configures(_ monitor: Monitor) -> Bool {
        switch monitor {
        case .prometheus: prometheus != nil
        case .datadog: datadog != nil
        case .cloudwatch: cloudwatch != nil
        case .sentry: sentry != nil
        }
    }

    /// What the missing block of `monitor` needs, for the error a signal or marker gets.
    static func example(_ monitor: Monitor) -> String {
        switch monitor {
        case .prometheus: "monitors.prometheus: {url: https://prometheus.internal:9090}"
        case .datadog: "monitors.datadog: {site: datadoghq.com}"
        case .cloudwatch: "monitors.cloudwatch: {region: eu-west-1}"
        case .sentry: "monitors.sentry: {org: ORG, project: PROJECT}"
        }
    }

    /// An http(s) URL without credentials (they would be printed and stored; tokens come from the
    /// environment), without its trailing `/`.
    private static func url(_ reader: ConfigReader) throws -> String {
        var url = try reader.string()
        guard NotifyConfiguration.isHTTPURL(url) else {
            throw reader.error("expected an http:// or https:// URL, found '\(Identifier.shown(url))'.")
        }
        let authority = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)[2]
        guard !authority.contains("@") else {
            throw reader.error("the URL must not carry a user or password (it would be shown and stored); a token comes from the environment.")
        }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    private static func slug(_ reader: ConfigReader) throws -> String {
        let text = try reader.string()
        guard Identifier.isValid(text), !text.contains("/"), !text.contains("@") else {
            throw reader.error("expected a slug of letters, digits, '-', '_' or '.', as in the Sentry URL, found '\(Identifier.shown(text))'.")
        }
        return text
    }

    /// `PROMETHEUS_TOKEN`: upper-case, so that a token pasted in its place is refused.
    static func isVariableName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 128, !("0"..."9").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private static func isHost(_ text: String) -> Bool {
        text.contains(".") && !text.hasPrefix(".") && !text.hasSuffix(".") && text.utf8.count <= 253
            && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }
    }

    private static func isRegion(_ text: String) -> Bool {
        text.contains("-") && text.utf8.count <= 32 && text.unicodeScalars.last.map { ("0"..."9").contains($0) } == true
            && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}

extension MarkersConfiguration {
    /// Reads and validates `markers:`; each marker needs its service in `monitors`.
    public init(reader: ConfigReader, monitors: MonitorsConfiguration) throws {
        let entries = try reader.mapping(allowed: ["sentry", "datadog"])
        self.init()
        if let block = entries.written("sentry") {
            try Self.requireMonitor(.sentry, block, monitors)
            let fields = try block.isNull ? nil : block.mapping(allowed: ["release_name"])
            var name = "{{version}}"
            if let nameReader = fields?["release_name"] {
                name = try nameReader.templated(allowing: ["version", "commit"], in: "a release name, made once for every environment")
                let references = Template.references(in: name)
                guard references.contains("version") || references.contains("commit") else {
                    throw nameReader.error("without {{version}} or {{commit}} every release gets the same Sentry release; write crm-api@{{version}}.")
                }
                guard !name.contains("/"), !name.contains("\\"), name.utf8.count <= 200 else {
                    throw nameReader.error("Sentry release names have no '/' or '\\' and at most 200 characters.")
                }
            }
            sentryReleaseName = name
        }
        if let block = entries.written("datadog") {
            let fields = try block.isNull ? nil : block.mapping(allowed: ["events"])
            datadogEvents = try fields?["events"]?.boolean() ?? true
            if datadogEvents { try Self.requireMonitor(.datadog, block, monitors) }
        }
    }

    private static func requireMonitor(_ monitor: Monitor, _ reader: ConfigReader, _ monitors: MonitorsConfiguration) throws {
        guard !monitors.configures(monitor) else { return }
        throw reader.error("\(monitor.rawValue) markers need the \(monitor.rawValue) connection: add \(MonitorsConfiguration.example(monitor)).")
    }
}

extension EnvironmentConfiguration {
    /// Reads `labels:`: names to values; `env` and `service` fill `{{env}}` and `{{service}}`.
    static func readLabels(reader: ConfigReader) throws -> [String: String] {
        var labels: [String: String] = [:]
        for (name, valueReader) in try reader.namedMapping() {
            guard Identifier.isValid(name) else {
                throw valueReader.error("label names are letters, digits, '-', '_' or '.', such as env or service.")
            }
            let value = try valueReader.string()
            guard !value.contains("{{"), !value.contains("}}") else {
                throw valueReader.error("a label is a plain value (it fills {{\(name)}}); templates are not filled in labels.")
            }
            labels[name] = value
        }
        return labels
    }
}

extension VerifyConfiguration {
    /// Reads and validates a `verify:` block; each signal's service must be in `monitors`.
    public init(reader: ConfigReader, monitors: MonitorsConfiguration) throws {
        let entries = try reader.mapping(allowed: ["after", "for", "every", "on_inconclusive", "mode", "signals"])
        let every = try entries["every"]?.timeSpan() ?? .minutes(1)
        let duration = try entries["for"]?.timeSpan(positive: false) ?? .zero
        if let durationReader = entries["for"], duration > .zero, duration < every {
            throw durationReader.error(
                "for: \(duration) is shorter than every: \(every), so there would be one measurement; write for: 0 for one round, "
                    + "or measure longer.")
        }
        self.init(
            after: try entries["after"]?.timeSpan(positive: false) ?? .zero, duration: duration, every: every,
            onInconclusive: try entries["on_inconclusive"]?.choice(InconclusivePolicy.self) ?? .hold,
            mode: try entries["mode"]?.choice(Mode.self) ?? .enforce, signals: [])
        let signalsReader = try entries.required("signals", "the list of signals that decide whether a deployment is good")
        let items = try signalsReader.sequence()
        guard !items.isEmpty else { throw signalsReader.error("list at least one signal, or remove verify:.") }
        var lines: [String: Int] = [:]
        for item in items {
            let (signal, nameReader, failuresReader) = try SignalConfiguration.read(item, monitors: monitors)
            if let line = lines[signal.name] {
                throw nameReader.error("a signal called '\(signal.name)' is already defined at line \(line); names are unique in an environment.")
            }
            lines[signal.name] = nameReader.value.line
            try checkFailures(signal, at: failuresReader ?? item)
            signals.append(signal)
        }
    }

    /// With `for` > 0, `failures` consecutive failing measurements `every` apart must fit in `for`
    /// (the contract's rule): else the signal could fail only if every measurement failed, the first
    /// one right after `after` included, or never at all.
    private func checkFailures(_ signal: SignalConfiguration, at reader: ConfigReader) throws {
        guard duration > .zero else { return }
        let (needed, overflow) = every.microseconds.multipliedReportingOverflow(by: Int64(signal.failures))
        guard overflow || needed > duration.microseconds else { return }
        let consequence =
            signal.failures > rounds
            ? "so signal '\(signal.name)' could never fail (it is measured \(rounds) times)"
            : "so signal '\(signal.name)' would fail only if all \(rounds) of its measurements failed, the first right after `after`"
        let fewer = Int(duration.microseconds / every.microseconds)
        throw reader.error(
            "failures: \(signal.failures) × every: \(every) = \(overflow ? "forever" : "\(TimeSpan(microseconds: needed))") is longer than "
                + "for: \(duration), \(consequence); lower failures to at most \(fewer), or raise for to at least "
                + "\(overflow ? "failures × every" : "\(TimeSpan(microseconds: needed))").")
    }
}

extension SignalConfiguration {
    /// The keys a signal takes.
    static let keys = ["name"] + Monitor.allCases.map(\.rawValue) + ["window", "fail_if", "pass_if", "no_data", "failures"]

    /// Reads one signal; returns it with the readers of its name and of `failures`, when written,
    /// for the checks that span signals.
    static func read(
        _ reader: ConfigReader, monitors: MonitorsConfiguration
    ) throws -> (signal: SignalConfiguration, name: ConfigReader, failures: ConfigReader?) {
        let entries = try reader.mapping(allowed: keys)
        let nameReader = try entries.required("name", "the signal's name, such as error-ratio")
        let name = try nameReader.string()
        guard Identifier.isValid(name) else {
            throw nameReader.error("expected a name of letters, digits, '-', '_' or '.', such as error-ratio, found '\(Identifier.shown(name))'.")
        }
        let sources = entries.keys.compactMap(Monitor.init(rawValue:))
        guard let monitor = sources.first, let sourceReader = entries.written(monitor.rawValue) else {
            throw reader.error("signal '\(name)' needs one of prometheus, datadog, cloudwatch or sentry, with what to ask it.")
        }
        if sources.count > 1, let second = entries.written(sources[1].rawValue) {
            throw second.error(
                "signal '\(name)' already asks \(monitor.rawValue); a signal asks one service: make a second signal for \(sources[1].rawValue).")
        }
        guard monitors.configures(monitor) else {
            throw sourceReader.error(
                "signal '\(name)' asks \(monitor.rawValue), which monitors: does not configure; add \(MonitorsConfiguration.example(monitor)).")
        }
        let query = try Self.query(monitor, sourceReader)
        var signal = SignalConfiguration(name: name, query: query)
        let state = Self.stateMeaning(query)
        if let windowReader = entries["window"] {
            if let state { throw windowReader.error("signal '\(name)' reads \(state); it takes no window: remove it.") }
            signal.window = try windowReader.timeSpan()
        }
        let failReader = entries["fail_if"]
        let passReader = entries["pass_if"]
        if let state, let thresholdReader = failReader ?? passReader {
            let key = failReader == nil ? "pass_if" : "fail_if"
            throw thresholdReader.error("signal '\(name)' reads \(state); it takes no \(key): remove it.")
        }
        if state == nil {
            guard let failReader else {
                throw reader.error("signal '\(name)' measures a number: add fail_if, such as fail_if: \"> 0.02\" (and optionally pass_if).")
            }
            let (failIf, failOperand) = try Self.threshold(failReader)
            signal.failIf = failIf
            if let passReader {
                let (passIf, _) = try Self.threshold(passReader)
                if let both = Threshold.overlap(failIf, passIf) {
                    throw passReader.error(
                        "fail_if \"\(failReader.scalarText)\" and pass_if \"\(passReader.scalarText)\" overlap: \(Self.shown(both, failIf, passIf)) "
                            + "would both fail and pass; make pass_if the other side of fail_if, such as pass_if: "
                            + "\"\(failIf.complement.rawValue) \(failOperand)\", or narrower, leaving an inconclusive band.")
                }
                signal.passIf = passIf
            }
        }
        if let noDataReader = entries["no_data"] {
            signal.noData = try noDataReader.choice(NoData.self)
            if let state, signal.noData == .zero {
                throw noDataReader.error("signal '\(name)' reads \(state), which no number decides; use inconclusive, pass or fail.")
            }
        }
        let failuresReader = entries["failures"]
        signal.failures = try failuresReader?.integer(in: 1...1000) ?? 2
        return (signal, nameReader, failuresReader)
    }

    /// What a state signal's service decides, for the errors that refuse thresholds; nil for a number.
    static func stateMeaning(_ query: SignalQuery) -> String? {
        switch query {
        case .prometheusAlert: "an alert's state (firing fails, pending is inconclusive, absent passes)"
        case .datadogMonitor: "a monitor's state (OK passes, Alert fails, Warn and No Data are inconclusive)"
        case .cloudwatchAlarm: "an alarm's state (OK passes, ALARM fails, INSUFFICIENT_DATA is no data)"
        case .prometheusQuery, .datadogQuery, .cloudwatchMetric, .sentryNewIssues, .sentryErrors: nil
        }
    }

    /// The block under a signal's service key, which says what to ask it.
    private static func query(_ monitor: Monitor, _ reader: ConfigReader) throws -> SignalQuery {
        switch monitor {
        case .prometheus:
            let (key, value) = try reader.one(of: ["query", "alert"], "query (a PromQL expression) or alert (an alerting rule's name)")
            let text = try value.templated()
            return key == "query" ? .prometheusQuery(text) : .prometheusAlert(text)
        case .datadog:
            let (key, value) = try reader.one(of: ["query", "monitor"], "query (a metrics query) or monitor (a monitor's numeric id)")
            if key == "query" { return .datadogQuery(try value.templated()) }
            guard case let .scalar(text, _) = value.value, let id = Int64(text), id > 0 else {
                throw value.error("expected the monitor's numeric id, such as 1234567 (the number in its URL).")
            }
            return .datadogMonitor(id)
        case .cloudwatch:
            let (key, value) = try reader.one(of: ["alarm", "metric"], "alarm (an alarm's name) or metric ({namespace, name, dimensions, stat})")
            if key == "alarm" { return .cloudwatchAlarm(try value.templated()) }
            return .cloudwatchMetric(try Self.metric(value))
        case .sentry:
            let (key, value) = try reader.one(
                of: ["new_issues", "errors"], "new_issues (issues first seen in the release) or errors (the release's error events)",
                nullAllowed: true)
            let fields = try value.isNull ? nil : value.mapping(allowed: key == "new_issues" ? ["level"] : ["query"])
            if key == "errors" { return .sentryErrors(query: try fields?["query"]?.templated()) }
            let levels = ["debug", "info", "warning", "error", "fatal"]
            guard let levelReader = fields?["level"] else { return .sentryNewIssues(level: nil) }
            let level = try levelReader.string()
            guard levels.contains(level) else {
                throw levelReader.error("expected a Sentry level: \(levels.joined(separator: ", ")); found '\(Identifier.shown(level))'.")
            }
            return .sentryNewIssues(level: level)
        }
    }

    private static func metric(_ reader: ConfigReader) throws -> CloudWatchMetric {
        let fields = try reader.mapping(allowed: ["namespace", "name", "dimensions", "stat"])
        let namespace = try fields.required("namespace", "the metric's namespace, such as AWS/ApplicationELB").untemplated()
        let name = try fields.required("name", "the metric's name, such as HTTPCode_Target_5XX_Count").untemplated()
        var dimensions: [(String, String)] = []
        if let dimensionsReader = fields["dimensions"] {
            for (key, valueReader) in try dimensionsReader.namedMapping() {
                guard !key.isEmpty, !key.contains("{{") else {
                    throw valueReader.error("dimension names are plain text, such as LoadBalancer; templates go in their values.")
                }
                dimensions.append((key, try valueReader.templated()))
            }
            guard dimensions.count <= 30 else { throw dimensionsReader.error("CloudWatch takes at most 30 dimensions.") }
        }
        var stat = "Average"
        if let statReader = fields["stat"] {
            stat = try statReader.untemplated()
            let basic = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
            if let meant = basic.first(where: { $0.lowercased() == stat.lowercased() }), meant != stat {
                throw statReader.error("CloudWatch statistics are case-sensitive: write \(meant).")
            }
            guard !stat.contains(" ") else {
                throw statReader.error("expected a statistic such as Average, Sum, Maximum or p95, found '\(Identifier.shown(stat))'.")
            }
        }
        return CloudWatchMetric(namespace: namespace, metric: name, dimensions: dimensions, stat: stat)
    }

    /// A threshold and its number as written; the error explains the grammar.
    private static func threshold(_ reader: ConfigReader) throws -> (Threshold, String) {
        let text = try reader.string()
        guard let parsed = Threshold.parse(text) else {
            let hint =
                Threshold.Comparison.allCases.contains { text.trimmingCharacters(in: .whitespaces).hasPrefix($0.rawValue) }
                ? "" : " Write it in quotes: unquoted, YAML takes a leading > or ! for itself."
            throw reader.error(
                "expected an operator (>, >=, <, <=, == or !=) and a number, optionally followed by % (hundredths), ms (milliseconds, "
                    + "compared with seconds) or s, such as \"> 0.02\", \">= 5%\" or \"> 800ms\"; found '\(Identifier.shown(text))'.\(hint)")
        }
        return parsed
    }

    /// A value both thresholds hold for, shown short when the short spelling still overlaps.
    private static func shown(_ value: Double, _ failIf: Threshold, _ passIf: Threshold) -> String {
        let short = format(value)
        if let back = Double(short), failIf.holds(for: back), passIf.holds(for: back) { return short }
        return Threshold.exact(value)
    }
}

extension ConfigReader {
    /// A value of a `String` enumeration; the error lists them all.
    func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws -> T where T.RawValue == String {
        let text = try string()
        guard let choice = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue)
            throw error("expected \(names.dropLast().joined(separator: ", ")) or \(names.last!), found '\(Identifier.shown(text))'.")
        }
        return choice
    }

    /// Exactly one of `keys` in this mapping: which, and its reader (with `nullAllowed`, `key:`
    /// alone counts); the second one written is the error.
    func one(of keys: [String], _ expectation: String, nullAllowed: Bool = false) throws -> (String, ConfigReader) {
        let entries = try mapping(allowed: keys)
        let written = entries.keys.filter { keys.contains($0) && (nullAllowed || entries[$0] != nil) }
        guard let key = written.first, let reader = nullAllowed ? entries.written(key) : entries[key] else {
            throw error("expected \(expectation).")
        }
        if written.count > 1, let second = entries.written(written[1]) {
            throw second.error("expected \(expectation), not both.")
        }
        return (key, reader)
    }

    /// A text in which templates are filled: only known ones, only `allowing` them, each closed.
    func templated(allowing allowed: [String] = Template.names, in place: String = "") throws -> String {
        let text = try string()
        let references = Template.references(in: text)
        for name in references {
            guard Template.names.contains(name) else {
                throw error(
                    "unknown template '{{\(Identifier.shown(name))}}'; the templates are "
                        + "\(Template.names.map { "{{\($0)}}" }.joined(separator: ", ")).")
            }
            guard allowed.contains(name) else {
                throw error(
                    "{{\(name)}} has no value in \(place); it may use \(allowed.map { "{{\($0)}}" }.joined(separator: " and ")).")
            }
        }
        if Self.count("{{", in: text) > references.count || Self.count("}}", in: text) > references.count {
            throw error("has a '{{' or '}}' that closes no template; templates are written {{version}}.")
        }
        return text
    }

    /// A text in which templates are not filled (and so not allowed).
    func untemplated() throws -> String {
        let text = try string()
        guard !text.contains("{{"), !text.contains("}}") else {
            throw error("templates are not filled here; only a query, an alarm's name and dimension values take them.")
        }
        return text
    }

    /// The scalar as written, for messages that quote it.
    var scalarText: String {
        if case let .scalar(text, _) = value { return Identifier.shown(text) }
        return ""
    }

    private static func count(_ pattern: String, in text: String) -> Int {
        var count = 0
        var rest = Substring(text)
        while let found = rest.range(of: pattern) {
            count += 1
            rest = rest[found.upperBound...]
        }
        return count
    }
}
