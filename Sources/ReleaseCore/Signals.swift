/// What a signal asks a monitoring service, with its templates still in it (`SignalQuery.rendered`
/// fills them for one deployment and one window).
public enum SignalQuery: Sendable, Equatable, CustomStringConvertible {
    /// Prometheus: an instant query, whose value is compared with the thresholds.
    case prometheusQuery(String)
    /// Prometheus: an alert by name; firing fails, pending is inconclusive, absent passes.
    case prometheusAlert(String)
    /// Datadog: a metrics query, whose value is compared with the thresholds.
    case datadogQuery(String)
    /// Datadog: a monitor's state; OK passes, Alert fails, Warn and No Data are inconclusive.
    case datadogMonitor(Int64)
    /// CloudWatch: an alarm's state; OK passes, ALARM fails, INSUFFICIENT_DATA is no data.
    case cloudwatchAlarm(String)
    /// CloudWatch: GetMetricData over the window, compared with the thresholds.
    case cloudwatchMetric(CloudWatchMetric)
    /// Sentry: how many issues were first seen in this release (at `level`, when given). `release`
    /// is the release's name in Sentry, which `rendered(_:)` fills (`{{release_name}}`).
    case sentryNewIssues(level: String?, release: String? = nil)
    /// Sentry: how many error events this release had in the window (matching `query`, when given).
    /// `release` is the release's name in Sentry, which `rendered(_:)` fills (`{{release_name}}`).
    case sentryErrors(query: String?, release: String? = nil)

    /// What is asked, in words: the query itself, or the alert, monitor or alarm it names.
    public var description: String {
        switch self {
        case let .prometheusQuery(text), let .datadogQuery(text): text
        case let .prometheusAlert(name): "alert \(name)"
        case let .datadogMonitor(id): "monitor \(id)"
        case let .cloudwatchAlarm(name): "alarm \(name)"
        case let .cloudwatchMetric(metric):
            "\(metric.stat) of \(metric.namespace) \(metric.metric)"
                + (metric.dimensions.isEmpty ? "" : " {" + metric.dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + "}")
        case let .sentryNewIssues(level, release):
            "new issues" + (release.map { " first seen in \($0)" } ?? "") + (level.map { " at level \($0)" } ?? "")
        case let .sentryErrors(query, release):
            "error events" + (release.map { " of \($0)" } ?? "") + (query.map { " matching \($0)" } ?? "")
        }
    }

    /// The monitoring service the query goes to.
    public var monitor: Monitor {
        switch self {
        case .prometheusQuery, .prometheusAlert: .prometheus
        case .datadogQuery, .datadogMonitor: .datadog
        case .cloudwatchAlarm, .cloudwatchMetric: .cloudwatch
        case .sentryNewIssues, .sentryErrors: .sentry
        }
    }

    /// Whether the answer is a number compared with `fail_if` / `pass_if` (else a state the
    /// service judges: an alert, a monitor, an alarm).
    public var isThresholded: Bool {
        switch self {
        case .prometheusQuery, .datadogQuery, .cloudwatchMetric, .sentryNewIssues, .sentryErrors: true
        case .prometheusAlert, .datadogMonitor, .cloudwatchAlarm: false
        }
    }

    /// The query with every template filled.
    public func rendered(_ values: TemplateValues) -> SignalQuery {
        switch self {
        case let .prometheusQuery(text): .prometheusQuery(Template.render(text, values))
        case let .prometheusAlert(text): .prometheusAlert(Template.render(text, values))
        case let .datadogQuery(text): .datadogQuery(Template.render(text, values))
        case .datadogMonitor: self
        case let .cloudwatchAlarm(text): .cloudwatchAlarm(Template.render(text, values))
        case let .cloudwatchMetric(metric): .cloudwatchMetric(metric.rendered(values))
        case let .sentryNewIssues(level, _): .sentryNewIssues(level: level, release: values.releaseName)
        case let .sentryErrors(query, _): .sentryErrors(query: query.map { Template.render($0, values) }, release: values.releaseName)
        }
    }
}

/// A CloudWatch metric for GetMetricData: `namespace`, `metric`, `dimensions`, `stat`.
public struct CloudWatchMetric: Sendable, Equatable {
    /// `AWS/ApplicationELB`.
    public var namespace: String
    /// `HTTPCode_Target_5XX_Count`.
    public var metric: String
    /// `LoadBalancer: app/crm/123`, templates allowed in the values.
    public var dimensions: [(String, String)]
    /// `Sum`, `Average`, `p95`, …
    public var stat: String

    /// Creates a metric.
    public init(namespace: String, metric: String, dimensions: [(String, String)] = [], stat: String = "Average") {
        self.namespace = namespace
        self.metric = metric
        self.dimensions = dimensions
        self.stat = stat
    }

    public static func == (lhs: CloudWatchMetric, rhs: CloudWatchMetric) -> Bool {
        lhs.namespace == rhs.namespace && lhs.metric == rhs.metric && lhs.stat == rhs.stat
            && lhs.dimensions.map(\.0) == rhs.dimensions.map(\.0) && lhs.dimensions.map(\.1) == rhs.dimensions.map(\.1)
    }

    func rendered(_ values: TemplateValues) -> CloudWatchMetric {
        var copy = self
        copy.dimensions = dimensions.map { ($0.0, Template.render($0.1, values)) }
        return copy
    }
}

/// The monitoring services `monitors:` connects to.
public enum Monitor: String, Sendable, CaseIterable {
    case prometheus, datadog, cloudwatch, sentry
}

/// The closed set of templates queries and marker names may use.
public struct TemplateValues: Sendable, Equatable {
    /// `{{version}}`: the release's version.
    public var version: String
    /// `{{release_name}}`: the name markers give the release (`crm-api@1.4.2`), else the version.
    public var releaseName: String
    /// `{{commit}}`: the release's commit, empty when it has none.
    public var commit: String
    /// `{{env}}`: the environment's `labels.env`, else its name.
    public var env: String
    /// `{{service}}`: the environment's `labels.service`, else the app's name.
    public var service: String
    /// `{{window}}`: the measurement's look-back as a Prometheus duration (`300s`).
    public var window: String

    /// Creates the values.
    public init(version: String, releaseName: String, commit: String, env: String, service: String, window: String) {
        self.version = version
        self.releaseName = releaseName
        self.commit = commit
        self.env = env
        self.service = service
        self.window = window
    }

    /// Each template's name and value.
    var named: [(String, String)] {
        [
            ("version", version), ("release_name", releaseName), ("commit", commit), ("env", env), ("service", service),
            ("window", window),
        ]
    }
}

/// `{{name}}` templates in release.yml's queries and names.
public enum Template {
    /// The template names there are.
    public static let names = ["version", "release_name", "commit", "env", "service", "window"]

    /// The names of the templates `text` uses, in order (`{{ version }}` is `version`).
    public static func references(in text: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            found.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return found
    }

    /// `text` with every known template replaced by its value.
    public static func render(_ text: String, _ values: TemplateValues) -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            result += rest[..<open.lowerBound]
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            result += values.named.first { $0.0 == name }?.1 ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return result + rest
    }
}

/// A threshold: `> 0.02`, `<= 5%`, `> 800ms`.
public struct Threshold: Sendable, Equatable, CustomStringConvertible {
    /// The comparison.
    public enum Comparison: String, Sendable, CaseIterable {
        case greater = ">"
        case greaterOrEqual = ">="
        case less = "<"
        case lessOrEqual = "<="
        case equal = "=="
        case notEqual = "!="
    }

    /// How it compares.
    public var comparison: Comparison
    /// The number compared with, in the measured value's unit (`5%` is 0.05, `800ms` is 0.8).
    public var value: Double
    /// The text as written, for messages.
    public var text: String

    /// Creates a threshold.
    public init(_ comparison: Comparison, _ value: Double, text: String? = nil) {
        self.comparison = comparison
        self.value = value
        self.text = text ?? "\(comparison.rawValue) \(value)"
    }

    /// Whether `measured` meets it.
    public func holds(for measured: Double) -> Bool {
        switch comparison {
        case .greater: measured > value
        case .greaterOrEqual: measured >= value
        case .less: measured < value
        case .lessOrEqual: measured <= value
        case .equal: measured == value
        case .notEqual: measured != value
        }
    }

    public var description: String { text }

    /// Equal when they compare the same way with the same number: `> 800ms` is `> 0.8`; the text
    /// is only how messages show it.
    public static func == (lhs: Threshold, rhs: Threshold) -> Bool {
        lhs.comparison == rhs.comparison && lhs.value == rhs.value
    }

    /// Parses release.yml's spelling: an operator, then a number, then optionally `%` (hundredths),
    /// `ms` (thousandths: a duration compared with seconds) or `s`; spaces between them optional
    /// (`"> 0.02"`, `">=5%"`, `"> 800ms"`). `nil` when it is not that.
    public init?(parsing written: String) {
        guard let parsed = Self.parse(written) else { return nil }
        self = parsed.threshold
    }

    /// The threshold and its number as written (`800ms`), for suggestions in messages.
    static func parse(_ written: String) -> (threshold: Threshold, operand: String)? {
        var rest = Substring(written.trimmingCharacters(in: .whitespaces))
        // Two-character operators first, so `>=` is not `>` and a number `=5`.
        guard let comparison = Comparison.allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count }).first(where: { rest.hasPrefix($0.rawValue) })
        else { return nil }
        rest = rest.dropFirst(comparison.rawValue.count).drop { $0 == " " || $0 == "\t" }
        let operand = String(rest)
        var scale = 0
        var unit = false
        for (suffix, exponent) in [("ms", 3), ("%", 2), ("s", 0)] where rest.hasSuffix(suffix) {
            rest = rest.dropLast(suffix.count)
            while rest.last == " " || rest.last == "\t" { rest.removeLast() }
            (scale, unit) = (exponent, true)
            break
        }
        guard Self.isDecimal(rest) else { return nil }
        // `1.1%` is read as `1.1e-2`, the double nearest 0.011, not 1.1 / 100.
        let scaled = rest.contains(where: { $0 == "e" || $0 == "E" }) ? Double(rest).map { $0 / pow10(scale) } : Double("\(rest)e-\(scale)")
        guard let value = scaled, value.isFinite else { return nil }
        let shown = "\(comparison.rawValue) \(Self.exact(value))"
        // A value measured in seconds or as a ratio is shown next to the number it is compared with.
        return (Threshold(comparison, value, text: unit ? "\(shown) (\(operand))" : shown), operand)
    }

    private static func pow10(_ exponent: Int) -> Double {
        [1, 10, 100, 1000][exponent]
    }

    /// An optionally signed decimal number, with an optional exponent: `0.02`, `-1`, `.5`, `1e-3`.
    private static func isDecimal(_ text: Substring) -> Bool {
        var rest = text.utf8[...]
        if let sign = rest.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { rest = rest.dropFirst() }
        let isDigit = { (byte: UInt8) in byte >= 48 && byte <= 57 }
        let integer = rest.prefix(while: isDigit)
        rest = rest.dropFirst(integer.count)
        var fraction = rest.prefix(0)
        if rest.first == UInt8(ascii: ".") {
            fraction = rest.dropFirst().prefix(while: isDigit)
            rest = rest.dropFirst(1 + fraction.count)
        }
        guard !integer.isEmpty || !fraction.isEmpty else { return false }
        if let marker = rest.first, marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            if let sign = rest.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { rest = rest.dropFirst() }
            let exponent = rest.prefix(while: isDigit)
            guard !exponent.isEmpty, exponent.count <= 3 else { return false }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty
    }

    /// A number as thresholds show it: whole numbers without `.0`, others in full (`0.02`, `1e-06`).
    static func exact(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// The threshold that holds exactly where this one does not (`<=` for `>`, `!=` for `==`).
    var complement: Comparison {
        switch comparison {
        case .greater: .lessOrEqual
        case .greaterOrEqual: .less
        case .less: .greaterOrEqual
        case .lessOrEqual: .greater
        case .equal: .notEqual
        case .notEqual: .equal
        }
    }

    /// A value both `first` and `second` hold for, when there is one. Each holds on intervals whose
    /// ends are its own number, so if both hold anywhere they hold at one of the two numbers, between
    /// them, or beyond both (where every comparison is constant).
    public static func overlap(_ first: Threshold, _ second: Threshold) -> Double? {
        let low = min(first.value, second.value)
        let high = max(first.value, second.value)
        let candidates = [low + (high - low) / 2, first.value, second.value, low - 1, high + 1, -Double.infinity, Double.infinity]
        return candidates.first { first.holds(for: $0) && second.holds(for: $0) }
    }
}

/// How one measurement, or one signal over a verification, came out. Four distinct outcomes: an
/// error is never a pass and never a failure.
public enum SignalOutcome: String, Sendable, CaseIterable, Comparable {
    case pass, inconclusive, error, fail

    /// Worse outcomes sort later: pass < inconclusive < error < fail.
    public static func < (lhs: SignalOutcome, rhs: SignalOutcome) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// What a monitoring service answered one measurement, before the thresholds judge it.
public struct SignalReading: Sendable, Equatable {
    /// The answer.
    public enum Answer: Sendable, Equatable {
        /// A number (the worst series' when there were several).
        case number(Double)
        /// Nothing to judge: no series, no points, NaN, INSUFFICIENT_DATA.
        case noData
        /// A state the service judged (an alert, a monitor, an alarm), with its own name for it.
        case state(SignalOutcome, String)
    }

    /// The answer.
    public var answer: Answer
    /// What was asked, as the service took it, secrets removed (stored and shown).
    public var query: String

    /// Creates a reading.
    public init(_ answer: Answer, query: String) {
        self.answer = answer
        self.query = query
    }
}

/// A span of time a measurement covers; `start` is never before the deployment's cutover.
public struct SignalWindow: Sendable, Equatable {
    /// The first instant counted.
    public var start: Timestamp
    /// The last instant counted (the measurement's time).
    public var end: Timestamp

    /// Creates a window.
    public init(start: Timestamp, end: Timestamp) {
        self.start = start
        self.end = end
    }

    /// The window that looks back `lookBack` from `end` but never before `cutover`.
    public static func clipped(lookBack: TimeSpan, end: Timestamp, cutover: Timestamp) -> SignalWindow {
        SignalWindow(start: max(cutover, Timestamp(microseconds: end.microseconds - lookBack.microseconds)), end: end)
    }

    /// Its length as a Prometheus duration for `{{window}}`, rounded down so that it never reaches
    /// further back: whole seconds (`300s`), or milliseconds under a second (`250ms`, at least 1ms).
    public var prometheusDuration: String {
        let milliseconds = max(1, (end.microseconds - start.microseconds) / 1000)
        return milliseconds >= 1000 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }
}
