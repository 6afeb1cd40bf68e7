import Postgres
import ReleaseCore

/// One measurement of one signal, with the signal's verdict so far.
public struct SignalMeasurement: Sendable {
    /// The deployment measured.
    public var deployment: Int64
    /// The signal's name and its place in release.yml.
    public var signal: String
    public var position: Int
    /// The monitoring service asked.
    public var monitor: Monitor
    /// False in `mode: observe`.
    public var enforcing: Bool
    /// The window measured (never before cutover).
    public var window: SignalWindow
    /// What was asked, secrets removed.
    public var query: String
    /// The value, when the answer was a number.
    public var value: Double?
    /// How the measurement came out, in words.
    public var outcome: SignalOutcome
    public var detail: String
    /// The signal's verdict so far (nil: still measuring) and how many measurements it has had.
    public var verdict: SignalOutcome?
    public var measurements: Int

    /// Creates a measurement.
    public init(
        deployment: Int64, signal: String, position: Int, monitor: Monitor, enforcing: Bool, window: SignalWindow, query: String,
        value: Double?, outcome: SignalOutcome, detail: String, verdict: SignalOutcome?, measurements: Int
    ) {
        self.deployment = deployment
        self.signal = signal
        self.position = position
        self.monitor = monitor
        self.enforcing = enforcing
        self.window = window
        self.query = query
        self.value = value
        self.outcome = outcome
        self.detail = detail
        self.verdict = verdict
        self.measurements = measurements
    }
}

extension PostgresConnection {
    /// Stores a measurement and the signal's verdict so far (one statement; the database refuses a
    /// window that reaches before the deployment's cutover).
    public func record(_ measurement: SignalMeasurement) throws {
        let m = measurement
        try enqueue(
            """
            SELECT release_record_measurement(\(m.deployment), \(m.signal), \(m.position), \(m.monitor.rawValue), \(m.enforcing),
                \(m.window.start)::timestamptz, \(m.window.end)::timestamptz, \(Secrets.redact(m.query)), \(m.value)::float8,
                \(m.outcome.rawValue), \(Secrets.redact(m.detail)), \(m.verdict?.rawValue ?? "measuring"), \(m.measurements))
            """)
    }

    /// Stores the verdict of a deployment's signals once measuring ends, and each signal's.
    public func setSignalVerdict(deployment id: Int64, _ verdict: SignalOutcome, signals: [(name: String, verdict: SignalOutcome)]) throws {
        try enqueue(
            "SELECT release_set_verdict(\(id), \(verdict.rawValue), \(signals.map(\.name))::text[], \(signals.map(\.verdict.rawValue))::text[])")
    }

    /// Holds a deployment whose verification was inconclusive: live, not verified.
    public func markHeld(deployment id: Int64, detail: String) throws {
        try enqueue("SELECT release_mark_held(\(id), \(Secrets.redact(detail)))")
    }

    /// `release accept`: marks the held deployment live in `environment` verified; its id, or nil
    /// when nothing held is live there. Refused (RA001) under enforcement for someone not allowed.
    public func accept(environment: Int64, reason: String, by claimed: String) throws -> Int64? {
        try query("SELECT release_accept(\(environment), \(reason), \(claimed)) AS id").first?.optionalInt64("id")
    }
}

extension Reads {
    static let signalVerdictColumns = "v.deployment_id, v.signal, v.monitor, v.enforcing, v.verdict, v.value, v.detail, v.measurements"

    /// Each deployment's signal verdicts in release.yml's order, by deployment id.
    public static func signalVerdicts(deployments: [Int64]) -> Fetch<[Int64: [SignalVerdictRecord]]> {
        Fetch(
            """
            SELECT \(unsafeSQL: signalVerdictColumns) FROM signal_verdicts v
            WHERE v.deployment_id = ANY(\(idArray(deployments))::bigint[]) ORDER BY v.deployment_id, v.position
            """
        ) { rows in try grouped(rows, by: "deployment_id") }
    }

    /// The signal verdicts of what each of these environments serves now, by environment id.
    public static func liveSignalVerdicts(environments: EnvironmentSet) -> Fetch<[Int64: [SignalVerdictRecord]]> {
        Fetch(
            """
            SELECT o.environment_id, \(unsafeSQL: signalVerdictColumns)
            FROM occupancy o JOIN signal_verdicts v ON v.deployment_id = o.deployment_id
            WHERE o.environment_id = ANY(\(environments.ids)) AND upper_inf(o.during)
            ORDER BY o.environment_id, v.position
            """
        ) { rows in try grouped(rows, by: "environment_id") }
    }

    /// A column for a query over `deploymentSelect` aliased `h`: the deployment's signal verdicts
    /// as JSON, in release.yml's order (by signal_verdicts' primary key).
    static let signalsColumn = """
        (SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.position), '[]') FROM signal_verdicts v WHERE v.deployment_id = h.id) AS signals
        """

    /// A deployment row with its `signals` column.
    static func deploymentWithSignals(_ row: PostgresRow) throws -> DeploymentRecord {
        var deployment = try row.deploymentRecord()
        deployment.signals = try signalVerdicts(row.json("signals"))
        return deployment
    }

    /// Signal verdicts from `signal_verdicts` rows as JSON (`to_jsonb`).
    static func signalVerdicts(_ json: JSONValue) throws -> [SignalVerdictRecord] {
        guard case let .array(items) = json else { return [] }
        return try items.map { item in
            guard let name = item["signal"]?.stringValue, let verdict = item["verdict"]?.stringValue else {
                throw PostgresError(kind: .decoding, message: "A signal verdict lacks its name or verdict.")
            }
            return SignalVerdictRecord(
                name: name, monitor: item["monitor"]?.stringValue ?? "", enforcing: item["enforcing"]?.boolValue ?? true,
                verdict: verdict, value: item["value"]?.doubleValue, detail: item["detail"]?.stringValue ?? "",
                measurements: Int(item["measurements"]?.intValue ?? 0))
        }
    }

    private static func grouped(_ rows: [PostgresRow], by column: String) throws -> [Int64: [SignalVerdictRecord]] {
        var verdicts: [Int64: [SignalVerdictRecord]] = [:]
        for row in rows {
            verdicts[try row.int64(column), default: []].append(
                SignalVerdictRecord(
                    name: try row.string("signal"), monitor: try row.string("monitor"), enforcing: try row.bool("enforcing"),
                    verdict: try row.string("verdict"), value: try row.optionalDouble("value"), detail: try row.string("detail"),
                    measurements: try row.int("measurements")))
        }
        return verdicts
    }
}
