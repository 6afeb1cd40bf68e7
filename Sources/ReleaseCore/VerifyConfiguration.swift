/// An environment's `verify:` block: the signals that decide whether a deployment is good, measured
/// after the health URL has passed.
public struct VerifyConfiguration: Sendable, Equatable {
    /// What an inconclusive verdict does.
    public enum InconclusivePolicy: String, Sendable, CaseIterable {
        /// Live, not verified; a person decides (`release accept`); exit 6.
        case hold
        /// Quarantine and roll back, as a failure does.
        case rollback
        /// Counts as verified.
        case pass
    }

    /// Whether the signals decide.
    public enum Mode: String, Sendable, CaseIterable {
        /// The signals' verdict counts.
        case enforce
        /// Measured, recorded and notified; never decides.
        case observe
    }

    /// Wait this long once the health URL has passed.
    public var after: TimeSpan
    /// Measure this long; zero is one round.
    public var duration: TimeSpan
    /// The cadence of measurements.
    public var every: TimeSpan
    /// What an inconclusive verdict does.
    public var onInconclusive: InconclusivePolicy
    /// Enforce or observe.
    public var mode: Mode
    /// The signals, in file order.
    public var signals: [SignalConfiguration]

    /// Creates a block with the contract's defaults.
    public init(
        after: TimeSpan = .zero, duration: TimeSpan = .zero, every: TimeSpan = .minutes(1),
        onInconclusive: InconclusivePolicy = .hold, mode: Mode = .enforce, signals: [SignalConfiguration]
    ) {
        self.after = after
        self.duration = duration
        self.every = every
        self.onInconclusive = onInconclusive
        self.mode = mode
        self.signals = signals
    }

    /// How many measurements each signal gets: one at `after`, then one every `every` until `for`.
    public var rounds: Int {
        guard duration > .zero, every > .zero else { return 1 }
        return Int(duration.microseconds / every.microseconds) + 1
    }
}

/// One signal in `verify.signals`.
public struct SignalConfiguration: Sendable, Equatable {
    /// What to do when the service has no data for a measurement.
    public enum NoData: String, Sendable, CaseIterable {
        /// The measurement is inconclusive (default): a quiet app is not a failing one.
        case inconclusive
        /// The measurement passes.
        case pass
        /// The measurement fails.
        case fail
        /// The value is 0, judged by the thresholds.
        case zero
    }

    /// The name, unique in the environment.
    public var name: String
    /// What is asked, templates unfilled.
    public var query: SignalQuery
    /// The look-back of each measurement (never before cutover); nil: since cutover.
    public var window: TimeSpan?
    /// Fails a measurement when it holds (thresholded queries).
    public var failIf: Threshold?
    /// Passes a measurement when it holds; between the two is inconclusive. Without it, not failing passes.
    public var passIf: Threshold?
    /// What no data means.
    public var noData: NoData
    /// Consecutive failing measurements before the signal fails.
    public var failures: Int

    /// Creates a signal.
    public init(
        name: String, query: SignalQuery, window: TimeSpan? = nil, failIf: Threshold? = nil, passIf: Threshold? = nil,
        noData: NoData = .inconclusive, failures: Int = 2
    ) {
        self.name = name
        self.query = query
        self.window = window
        self.failIf = failIf
        self.passIf = passIf
        self.noData = noData
        self.failures = failures
    }

    /// Judges one reading: the outcome and what it was, in words ("0.031 > 0.02").
    public func judge(_ reading: SignalReading) -> (outcome: SignalOutcome, value: Double?, detail: String) {
        switch reading.answer {
        case let .state(outcome, said):
            return (outcome, nil, said)
        case .noData:
            switch noData {
            case .inconclusive: return (.inconclusive, nil, "no data")
            case .pass: return (.pass, nil, "no data (no_data: pass)")
            case .fail: return (.fail, nil, "no data (no_data: fail)")
            case .zero:
                let judged = judge(SignalReading(.number(0), query: reading.query))
                return (judged.outcome, 0, "no data, counted as 0: \(judged.detail)")
            }
        case let .number(value):
            let shown = Self.format(value)
            if let failIf, failIf.holds(for: value) { return (.fail, value, "\(shown) \(failIf)") }
            guard let passIf else {
                return (.pass, value, failIf.map { "\(shown), not \($0)" } ?? shown)
            }
            if passIf.holds(for: value) { return (.pass, value, "\(shown) \(passIf)") }
            return (.inconclusive, value, "\(shown): neither \(failIf?.text ?? "failing") nor \(passIf)")
        }
    }

    /// A value as messages show it: up to four significant decimals, no trailing zeros.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var text = String(format: "%.4g", value)
        if text.contains("e") { return text }
        while text.contains("."), text.hasSuffix("0") { text.removeLast() }
        return text
    }
}

/// One signal's measurements over a verification, in order: it fails after `failures` consecutive
/// failing measurements (one, when there is a single round), passes at the end when its last
/// measurement passed, and is inconclusive otherwise; an error never passes and never fails.
public struct SignalTally: Sendable, Equatable {
    /// Consecutive failing measurements needed to fail.
    public let failuresNeeded: Int
    /// The outcomes so far.
    public private(set) var outcomes: [SignalOutcome] = []

    /// A tally for `signal` over `rounds` measurements.
    public init(_ signal: SignalConfiguration, rounds: Int) {
        failuresNeeded = rounds <= 1 ? 1 : max(1, signal.failures)
    }

    /// Adds a measurement.
    public mutating func add(_ outcome: SignalOutcome) { outcomes.append(outcome) }

    /// Whether the signal has failed: the last `failuresNeeded` measurements all failed.
    public var failed: Bool {
        outcomes.count >= failuresNeeded && outcomes.suffix(failuresNeeded).allSatisfy { $0 == .fail }
    }

    /// The signal's verdict once measuring ends: fail, pass (its last measurement passed) or inconclusive.
    public var verdict: SignalOutcome {
        if failed { return .fail }
        return outcomes.last == .pass ? .pass : .inconclusive
    }
}
