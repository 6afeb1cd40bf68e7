import Postgres
import ReleaseCore

/// Reads as `Fetch` values, so that several independent ones share one round trip:
/// `try db.fetch(Reads.now(), Reads.currentLive(environment: id))`. A read of a `nil` id sends a
/// statement that finds nothing (still no extra round trip) and decodes to nil or empty.
public enum Reads {
    /// The server's clock.
    public static func now() -> Fetch<Timestamp> {
        Fetch("SELECT clock_timestamp() AS now") { rows in
            guard let row = rows.first else {
                throw PostgresError(kind: .decoding, message: "The server did not return its time.")
            }
            return try row.timestamp("now")
        }
    }

    /// An app's id and its environments' ids by name (nil and empty when it was never used).
    public static func environments(app: String) -> Fetch<(app: Int64?, environments: [String: Int64])> {
        Fetch("SELECT a.id AS app_id, e.id, e.name FROM apps a LEFT JOIN environments e ON e.app_id = a.id WHERE a.name = \(app)") { rows in
            var ids: [String: Int64] = [:]
            for row in rows {
                if let name = try row.optionalString("name"), let id = try row.optionalInt64("id") { ids[name] = id }
            }
            return (try rows.first?.int64("app_id"), ids)
        }
    }

    /// What an environment serves now: its open occupancy.
    public static func currentLive(environment: Int64?) -> Fetch<LiveRelease?> {
        one(environment) { currentLive(environments: .ids($0)) }
    }

    /// What each of these environments serves now, by environment id (absent: nothing).
    public static func currentLive(environments: EnvironmentSet) -> Fetch<[Int64: LiveRelease]> {
        Fetch(
            """
            SELECT o.environment_id, r.version, o.release_id, lower(o.during) AS since, d.actor, d.id AS deployment_id, d.state, d.verified,
                   d.accepted_at
            FROM occupancy o JOIN deployments d ON d.id = o.deployment_id JOIN releases r ON r.id = o.release_id
            WHERE o.environment_id = ANY(\(environments.ids)) AND upper_inf(o.during)
            """
        ) { rows in try byEnvironment(rows) { try liveRelease($0) } }
    }

    static func liveRelease(_ row: PostgresRow) throws -> LiveRelease {
        LiveRelease(
            version: try row.string("version"), releaseID: try row.int64("release_id"), since: try row.timestamp("since"),
            by: try row.string("actor"), deploymentID: try row.int64("deployment_id"),
            state: DeploymentState(rawValue: try row.string("state")) ?? .failed, verified: try row.bool("verified"),
            acceptedAt: try row.optionalTimestamp("accepted_at"))
    }

    /// The deployment in flight on an environment, if any.
    public static func inFlight(environment: Int64?) -> Fetch<DeploymentRecord?> {
        one(environment) { inFlight(environments: .ids($0)) }
    }

    /// The deployment in flight on each of these environments, by environment id (at most one each).
    public static func inFlight(environments: EnvironmentSet) -> Fetch<[Int64: DeploymentRecord]> {
        Fetch(
            """
            \(unsafeSQL: deploymentSelect)
            WHERE d.environment_id = ANY(\(environments.ids)) AND d.state IN (\(unsafeSQL: inFlightStates))
            """
        ) { rows in try byEnvironment(rows) { try $0.deploymentRecord() } }
    }

    /// In flight, or ended before reaching the provider: never what an environment finished with.
    static let unfinishedStates = sqlList(DeploymentState.allCases.filter { $0.isInFlight || $0 == .rejected || $0 == .cancelled })

    /// The last deployment of each of these environments that finished (not rejected or
    /// cancelled), by environment id.
    public static func lastFinished(environments: EnvironmentSet) -> Fetch<[Int64: DeploymentRecord]> {
        Fetch(
            """
            SELECT s.* FROM unnest(\(environments.ids)) AS lane(id) CROSS JOIN LATERAL (
                \(unsafeSQL: deploymentSelect)
                WHERE d.environment_id = lane.id AND d.state NOT IN (\(unsafeSQL: unfinishedStates))
                ORDER BY d.id DESC LIMIT 1
            ) s
            """
        ) { rows in try byEnvironment(rows) { try $0.deploymentRecord() } }
    }

    /// A deployment by id.
    public static func deployment(id: Int64?) -> Fetch<DeploymentRecord?> {
        Fetch("\(unsafeSQL: deploymentSelect) WHERE d.id = \(id)") { rows in try rows.first?.deploymentRecord() }
    }

    /// A release by id.
    public static func release(id: Int64?) -> Fetch<ReleaseRecord?> {
        Fetch("SELECT \(unsafeSQL: releaseColumns) FROM releases WHERE id = \(id)") { rows in try rows.first?.releaseRecord() }
    }

    /// The last health verdict and its detail.
    public static func health(environment: Int64?) -> Fetch<(health: String, detail: String?, recoveredAt: Timestamp?)> {
        one(environment) { health(environments: .ids($0)) }.map { $0 ?? ("unknown", nil, nil) }
    }

    /// The last health verdict of each of these environments, by environment id.
    public static func health(environments: EnvironmentSet) -> Fetch<[Int64: (health: String, detail: String?, recoveredAt: Timestamp?)]> {
        Fetch(
            """
            SELECT id AS environment_id, health, health_detail, recovered_at FROM environments
            WHERE id = ANY(\(environments.ids))
            """
        ) { rows in
            try byEnvironment(rows) { row in
                (try row.string("health"), try row.optionalString("health_detail"), try row.optionalTimestamp("recovered_at"))
            }
        }
    }

    /// Ad-hoc freezes not lifted and not yet over by the server's clock. Callers filter them
    /// against their own `now` (`AdHocFreeze.isActive(at:)`), read in the same round trip.
    public static func openFreezes(environment: Int64?) -> Fetch<[AdHocFreeze]> {
        one(environment) { openFreezes(environments: .ids($0)) }.map { $0 ?? [] }
    }

    /// The open freezes of each of these environments, by environment id, oldest first.
    public static func openFreezes(environments: EnvironmentSet) -> Fetch<[Int64: [AdHocFreeze]]> {
        Fetch(
            """
            SELECT environment_id, reason, until, frozen_by, frozen_at FROM freezes
            WHERE environment_id = ANY(\(environments.ids)) AND lifted_at IS NULL
              AND (until IS NULL OR until > clock_timestamp() - interval '1 minute')
            ORDER BY id
            """
        ) { rows in
            var freezes: [Int64: [AdHocFreeze]] = [:]
            for row in rows {
                freezes[try row.int64("environment_id"), default: []].append(
                    AdHocFreeze(
                        reason: try row.string("reason"), until: try row.optionalTimestamp("until"),
                        by: try row.string("frozen_by"), since: try row.timestamp("frozen_at")))
            }
            return freezes
        }
    }

    /// A read of several environments (or apps) asked about one (nil: an id the database has not
    /// given, which finds nothing).
    static func one<T>(_ id: Int64?, _ read: ([Int64]) -> Fetch<[Int64: T]>) -> Fetch<T?> {
        read(id.map { [$0] } ?? []).map { values in id.flatMap { values[$0] } }
    }

    /// Ids as a text array parameter (`= ANY($1::bigint[])`).
    static func idArray(_ ids: [Int64]) -> [String] { ids.map(String.init) }

    /// One value per row, keyed by the row's `environment_id`.
    static func byEnvironment<T>(_ rows: [PostgresRow], _ decode: (PostgresRow) throws -> T) throws -> [Int64: T] {
        try keyed(rows, by: "environment_id", decode)
    }

    /// One value per row, keyed by an id column of the row.
    static func keyed<T>(_ rows: [PostgresRow], by column: String, _ decode: (PostgresRow) throws -> T) throws -> [Int64: T] {
        var values: [Int64: T] = [:]
        for row in rows { values[try row.int64(column)] = try decode(row) }
        return values
    }

    /// The latest status of each check of a release.
    public static func latestChecks(release: Int64?) -> Fetch<[String: CheckStatus]> {
        Fetch(
            """
            SELECT DISTINCT ON (name) name, status FROM checks WHERE release_id = \(release) ORDER BY name, id DESC
            """
        ) { rows in
            var checks: [String: CheckStatus] = [:]
            for row in rows { checks[try row.string("name")] = CheckStatus(rawValue: try row.string("status")) }
            return checks
        }
    }

    /// Who approved a release for an environment, since an instant.
    public static func approvers(environment: Int64?, release: Int64?, since: Timestamp?) -> Fetch<[String]> {
        Fetch(
            """
            SELECT DISTINCT approver FROM approvals
            WHERE environment_id = \(environment) AND release_id = \(release)
              AND (\(since)::timestamptz IS NULL OR approved_at >= \(since)::timestamptz)
              -- Under enforced identity, only verified persons' approvals count (as the database checks).
              AND NOT automation AND (login IS NOT NULL OR NOT EXISTS (SELECT 1 FROM access_enforcement))
            ORDER BY approver
            """
        ) { rows in try rows.map { try $0.string("approver") } }
    }

    /// Whether this run still holds a deployment's lease; locks the row until the transaction ends.
    /// The id the next deployment will have (`PostgresConnection.startDeployment`), or nil
    /// without `reserve` (the statement still travels, so a pipeline keeps its shape).
    public static func nextDeploymentID(reserve: Bool) -> Fetch<Int64?> {
        Fetch(reserve ? "SELECT release_next_deployment_id() AS id" : "SELECT NULL::bigint AS id") { rows in
            try rows.first?.optionalInt64("id")
        }
    }

    public static func holdsLease(deployment: Int64, owner: String) -> Fetch<Bool> {
        Fetch("SELECT release_holds_lease(\(deployment), \(owner)) AS held") { try $0.first?.bool("held") ?? false }
    }
}

/// The environments a read is about: ids already known, or the names of an app's environments,
/// looked up by the statement itself, so that a command need not read the ids first.
public enum EnvironmentSet: Sendable {
    case ids([Int64])
    case named(app: String, [String])

    /// A `bigint[]` expression of their ids.
    var ids: PostgresQuery {
        switch self {
        case let .ids(ids):
            "\(Reads.idArray(ids))::bigint[]"
        case let .named(app, names):
            """
            ARRAY(SELECT e.id FROM environments e JOIN apps a ON a.id = e.app_id WHERE a.name = \(app) AND e.name = ANY(\(names)))
            """
        }
    }
}

/// The app a read is about: its id, or its name, looked up by the statement itself (an InitPlan:
/// once per statement, and the indexes on app_id still serve).
public enum AppRef: Sendable {
    case id(Int64)
    case named(String)

    /// A `bigint` expression of its id (NULL when the database has not seen the app).
    var id: PostgresQuery {
        switch self {
        case let .id(id): "\(id)::bigint"
        case let .named(name): "(SELECT id FROM apps WHERE name = \(name))"
        }
    }
}
