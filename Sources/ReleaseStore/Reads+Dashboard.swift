import Postgres
import ReleaseCore

/// An app and its environments, as the database knows them.
public struct KnownApp: Sendable {
    /// The app's id.
    public var id: Int64
    /// The app's name.
    public var name: String
    /// Its environments (name and id), in the order they were first used.
    public var environments: [(name: String, id: Int64)]

    /// Creates a value.
    public init(id: Int64, name: String, environments: [(name: String, id: Int64)]) {
        self.id = id
        self.name = name
        self.environments = environments
    }
}

/// A release's time live in an environment: one occupancy with the deployment that began it.
public struct OccupancySpan: Sendable, Equatable {
    /// The environment's name.
    public var environment: String
    /// The release's version.
    public var version: String
    /// Cutover.
    public var since: Timestamp
    /// The next release's cutover, nil while it is still live.
    public var until: Timestamp?
    /// The deployment that made it live.
    public var deploymentID: Int64
    /// How it got there.
    public var kind: DeploymentKind
    /// That deployment's state now (a failed one went live and failed its probe).
    public var state: DeploymentState
    /// Who made it live.
    public var by: String
}

/// A CI check result as recorded.
public struct CheckRecord: Sendable, Equatable {
    /// The check's name.
    public var name: String
    /// passed, failed or pending.
    public var status: String
    /// A link to the CI run, if given.
    public var url: String?
    /// Who recorded it.
    public var by: String
    /// When.
    public var at: Timestamp
}

/// An approval of a release for an environment.
public struct ApprovalRecord: Sendable, Equatable {
    /// The environment's name.
    public var environment: String
    /// Who approved.
    public var by: String
    /// When.
    public var at: Timestamp
}

/// A release's time live in an environment with the deployment that began it (`occupancySpans`
/// decodes it, with the environment's name as `environment`).
let spanSelect = """
    SELECT r.version, lower(o.during) AS since, upper(o.during) AS until, d.id AS deployment_id, d.kind, d.state, d.actor
    FROM occupancy o JOIN deployments d ON d.id = o.deployment_id JOIN releases r ON r.id = o.release_id
    """

extension Reads {
    /// Every app in the database (or only the one named) with its environments, by app name.
    public static func knownApps(named name: String? = nil) -> Fetch<[KnownApp]> {
        Fetch(
            """
            SELECT a.id AS app_id, a.name AS app, e.id, e.name FROM apps a LEFT JOIN environments e ON e.app_id = a.id
            WHERE \(name)::text IS NULL OR a.name = \(name)::text
            ORDER BY a.name, e.id
            """
        ) { rows in
            var apps: [KnownApp] = []
            for row in rows {
                let id = try row.int64("app_id")
                if apps.last?.id != id { apps.append(KnownApp(id: id, name: try row.string("app"), environments: [])) }
                if let environment = try row.optionalInt64("id") {
                    apps[apps.count - 1].environments.append((try row.string("name"), environment))
                }
            }
            return apps
        }
    }

    /// The latest `limit` occupancies of each environment of an app, newest first.
    public static func timeline(app: Int64, limit: Int) -> Fetch<[OccupancySpan]> {
        Fetch(
            """
            SELECT e.name AS environment, s.* FROM environments e CROSS JOIN LATERAL (
                \(unsafeSQL: spanSelect)
                WHERE o.environment_id = e.id ORDER BY lower(o.during) DESC LIMIT \(limit)
            ) s
            WHERE e.app_id = \(app)
            ORDER BY e.id, s.since DESC
            """, decode: occupancySpans)
    }

    /// Each environment's occupancies around an instant: up to `limit` that began at or before it
    /// and up to `limit` after, newest first, so that a picked instant is drawn among what was
    /// live near it however long ago it was.
    public static func timeline(app: Int64, around instant: Timestamp, limit: Int) -> Fetch<[OccupancySpan]> {
        Fetch(
            """
            SELECT e.name AS environment, s.* FROM environments e CROSS JOIN LATERAL (
                (\(unsafeSQL: spanSelect)
                 WHERE o.environment_id = e.id AND lower(o.during) <= \(instant)::timestamptz
                 ORDER BY lower(o.during) DESC LIMIT \(limit))
                UNION ALL
                (\(unsafeSQL: spanSelect)
                 WHERE o.environment_id = e.id AND lower(o.during) > \(instant)::timestamptz
                 ORDER BY lower(o.during) LIMIT \(limit))
            ) s
            WHERE e.app_id = \(app)
            ORDER BY e.id, s.since DESC
            """, decode: occupancySpans)
    }

    /// The deployments of an app whose ids lie in a range (ids grow with time: the deployments
    /// between two shown on a timeline), newest first, at most `limit`.
    public static func deployments(app: Int64, ids: ClosedRange<Int64>, limit: Int) -> Fetch<[DeploymentRecord]> {
        Fetch(
            """
            \(unsafeSQL: deploymentSelect)
            WHERE d.app_id = \(app) AND d.id BETWEEN \(ids.lowerBound) AND \(ids.upperBound)
            ORDER BY d.id DESC LIMIT \(limit)
            """
        ) { rows in try rows.map { try $0.deploymentRecord() } }
    }

    static func occupancySpans(_ rows: [PostgresRow]) throws -> [OccupancySpan] {
        try rows.map { row in
            OccupancySpan(
                environment: try row.string("environment"), version: try row.string("version"), since: try row.timestamp("since"),
                until: try row.optionalTimestamp("until"), deploymentID: try row.int64("deployment_id"),
                kind: DeploymentKind(rawValue: try row.string("kind")) ?? .deploy,
                state: DeploymentState(rawValue: try row.string("state")) ?? .failed, by: try row.string("actor"))
        }
    }

    /// The latest `limit` deployments of each environment of an app, newest first: the
    /// timeline's marks, failures before cutover among them.
    public static func recentDeployments(app: Int64, limit: Int) -> Fetch<[DeploymentRecord]> {
        Fetch(
            """
            SELECT s.* FROM environments lane CROSS JOIN LATERAL (
                \(unsafeSQL: deploymentSelect) WHERE d.environment_id = lane.id ORDER BY d.id DESC LIMIT \(limit)
            ) s
            WHERE lane.app_id = \(app)
            ORDER BY s.id DESC
            """
        ) { rows in try rows.map { try $0.deploymentRecord() } }
    }

    /// A release by version.
    public static func release(app: Int64, version: String) -> Fetch<ReleaseRecord?> {
        one(app) { releases(apps: $0, version: version) }
    }

    /// The release with this version in each of these apps that has one, by app id.
    public static func releases(apps: [Int64], version: String) -> Fetch<[Int64: ReleaseRecord]> {
        Fetch(
            """
            SELECT app_id, \(unsafeSQL: releaseColumns) FROM releases
            WHERE app_id = ANY(\(idArray(apps))::bigint[]) AND version = \(version)
            """
        ) { rows in try keyed(rows, by: "app_id") { try $0.releaseRecord() } }
    }

    /// Every check result recorded for a release, oldest first.
    public static func checks(release: Int64?) -> Fetch<[CheckRecord]> {
        Fetch("SELECT name, status, url, recorded_by, recorded_at FROM checks WHERE release_id = \(release) ORDER BY id") { rows in
            try rows.map { row in
                CheckRecord(
                    name: try row.string("name"), status: try row.string("status"), url: try row.optionalString("url"),
                    by: try row.string("recorded_by"), at: try row.timestamp("recorded_at"))
            }
        }
    }

    /// Every approval of a release, oldest first.
    public static func approvals(release: Int64?) -> Fetch<[ApprovalRecord]> {
        Fetch(
            """
            SELECT e.name AS environment, a.approver, a.approved_at FROM approvals a JOIN environments e ON e.id = a.environment_id
            WHERE a.release_id = \(release) ORDER BY a.id
            """
        ) { rows in
            try rows.map { row in
                ApprovalRecord(environment: try row.string("environment"), by: try row.string("approver"), at: try row.timestamp("approved_at"))
            }
        }
    }

    /// Every deployment of a release, oldest first.
    public static func deployments(release: Int64?) -> Fetch<[DeploymentRecord]> {
        Fetch("SELECT h.*, \(unsafeSQL: signalsColumn) FROM (\(unsafeSQL: deploymentSelect) WHERE d.release_id = \(release)) h ORDER BY h.id") {
            rows in try rows.map(deploymentWithSignals)
        }
    }

    /// The first `limit` audit events about a version of an app, in order.
    public static func auditEvents(app: Int64, version: String, limit: Int) -> Fetch<[AuditEvent]> {
        Fetch(
            """
            \(unsafeSQL: auditSelect) WHERE a.app_id = \(app) AND a.version = \(version) ORDER BY a.sequence LIMIT \(limit)
            """
        ) { rows in try rows.map(PostgresConnection.auditEvent) }
    }

    /// What was live in each environment of an app at an instant, by environment name.
    public static func liveAt(app: AppRef, at instant: Timestamp) -> Fetch<[String: LiveRelease]> {
        liveAt(appIDs: "ARRAY[\(app.id)]", at: instant).map { $0.values.first ?? [:] }
    }

    /// What was live in each environment of these apps at an instant, by app id and environment name.
    ///
    /// Each environment's occupancy, deployment and release are looked up by index (LIMIT 1, exact
    /// here, keeps the planner from turning them into joins): over 400 environments it hashed the
    /// whole releases table, a scan that grows with history.
    public static func liveAt(apps: [Int64], at instant: Timestamp) -> Fetch<[Int64: [String: LiveRelease]]> {
        liveAt(appIDs: "\(idArray(apps))::bigint[]", at: instant)
    }

    private static func liveAt(appIDs: PostgresQuery, at instant: Timestamp) -> Fetch<[Int64: [String: LiveRelease]]> {
        Fetch(
            """
            SELECT e.app_id, e.name AS environment, r.version, o.release_id, lower(o.during) AS since, d.actor,
                   d.id AS deployment_id, d.state, d.verified, d.accepted_at
            FROM environments e
            CROSS JOIN LATERAL (
                SELECT release_id, deployment_id, during FROM occupancy
                WHERE environment_id = e.id AND during @> \(instant)::timestamptz LIMIT 1
            ) o
            CROSS JOIN LATERAL (SELECT id, actor, state, verified, accepted_at FROM deployments WHERE id = o.deployment_id LIMIT 1) d
            CROSS JOIN LATERAL (SELECT version FROM releases WHERE id = o.release_id LIMIT 1) r
            WHERE e.app_id = ANY(\(appIDs))
            """
        ) { rows in
            var live: [Int64: [String: LiveRelease]] = [:]
            for row in rows { live[try row.int64("app_id"), default: [:]][try row.string("environment")] = try liveRelease(row) }
            return live
        }
    }

    /// Deployments newest first, of one environment or the whole app, by name (nothing when the
    /// database has not seen them).
    public static func history(app: String, environment: String?, limit: Int) -> Fetch<[DeploymentRecord]> {
        let lanes =
            environment.map { history(lanes: EnvironmentSet.named(app: app, [$0]).ids, column: "environment_id", limit: limit) }
            ?? history(lanes: "ARRAY[\(AppRef.named(app).id)]", column: "app_id", limit: limit)
        return lanes.map { $0.map(\.deployment) }
    }

    /// The latest `limit` deployments of these apps together, newest first, with their environments' ids.
    public static func history(apps: [Int64], limit: Int) -> Fetch<[(environmentID: Int64, deployment: DeploymentRecord)]> {
        history(lanes: "\(idArray(apps))::bigint[]", column: "app_id", limit: limit)
    }

    /// The latest `limit` deployments of these environments together, newest first, with their ids.
    public static func history(environments: [Int64], limit: Int) -> Fetch<[(environmentID: Int64, deployment: DeploymentRecord)]> {
        history(lanes: "\(idArray(environments))::bigint[]", column: "environment_id", limit: limit)
    }

    /// The ids of each lane's newest `limit` (a range of deployments_app_history or
    /// deployments_environment_history each), the newest `limit` of those, and only then their
    /// rows: however long the history, at most lanes x limit index entries. Each row carries its
    /// signals' verdicts (by signal_verdicts' primary key).
    private static func history(lanes: PostgresQuery, column: String, limit: Int) -> Fetch<[(environmentID: Int64, deployment: DeploymentRecord)]> {
        Fetch(
            """
            SELECT h.*, \(unsafeSQL: signalsColumn)
            FROM (
            \(unsafeSQL: deploymentSelect)
            JOIN (
                SELECT s.id FROM unnest(\(lanes)) AS lane(id) CROSS JOIN LATERAL (
                    SELECT id FROM deployments WHERE \(unsafeSQL: column) = lane.id ORDER BY id DESC LIMIT \(limit)
                ) s
                ORDER BY s.id DESC LIMIT \(limit)
            ) latest ON latest.id = d.id
            ) h
            ORDER BY h.id DESC
            """
        ) { rows in try rows.map { (try $0.int64("environment_id"), try deploymentWithSignals($0)) } }
    }

    /// The audit events that match, in order: the latest `limit` of them (oldest of those first),
    /// or all when `limit` is nil. `release audit` and the dashboard's `/api/audit`.
    public static func latestAuditEvents(
        app: AppRef, environment: String?, since: Timestamp?, until: Timestamp?,
        limit: Int?
    ) -> Fetch<[AuditEvent]> {
        // With a limit: the latest events, newest first, then put back in order (an Int, so
        // spelled into the statement).
        let (head, tail) =
            limit.map { ("SELECT * FROM (", "ORDER BY a.sequence DESC LIMIT \($0)) latest ORDER BY sequence") }
            ?? ("", "ORDER BY a.sequence")
        let query: PostgresQuery = """
            \(unsafeSQL: head)\(unsafeSQL: auditSelect)
            WHERE a.app_id = \(app.id)
              AND (\(environment)::text IS NULL OR a.environment = \(environment)::text)
              AND (\(since)::timestamptz IS NULL OR a.at >= \(since)::timestamptz)
              AND (\(until)::timestamptz IS NULL OR a.at < \(until)::timestamptz)
            \(unsafeSQL: tail)
            """
        return Fetch(query) { rows in try rows.map(PostgresConnection.auditEvent) }
    }

    /// The latest `limit` matching audit events of these apps together, in time order: `/api/audit`
    /// without an app. Each app's latest `limit` ids come from its (app_id, sequence) index; only
    /// the latest `limit` of those are read whole.
    public static func latestAuditEvents(
        apps: [Int64], environment: String?, since: Timestamp?, until: Timestamp?,
        limit: Int
    ) -> Fetch<[AuditEvent]> {
        Fetch(
            """
            \(unsafeSQL: auditSelect)
            JOIN (
                SELECT s.id FROM unnest(\(idArray(apps))::bigint[]) AS lane(id) CROSS JOIN LATERAL (
                    SELECT a.id FROM audit_events a
                    WHERE a.app_id = lane.id
                      AND (\(environment)::text IS NULL OR a.environment = \(environment)::text)
                      AND (\(since)::timestamptz IS NULL OR a.at >= \(since)::timestamptz)
                      AND (\(until)::timestamptz IS NULL OR a.at < \(until)::timestamptz)
                    ORDER BY a.sequence DESC LIMIT \(limit)
                ) s
                ORDER BY s.id DESC LIMIT \(limit)
            ) latest ON latest.id = a.id
            ORDER BY a.at, a.id
            """
        ) { rows in try rows.map(PostgresConnection.auditEvent) }
    }

    /// The app's recorded chain head: how many events and the last hash.
    public static func auditHead(app: Int64) -> Fetch<(count: Int64, hash: String?)> {
        Fetch("SELECT audit_sequence, audit_head FROM apps WHERE id = \(app)") { rows in
            guard let row = rows.first else { return (0, nil) }
            return (try row.int64("audit_sequence"), try row.optionalString("audit_head"))
        }
    }
}
