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

    /// Registers the app and one or two environments if need be (a write: in a pipeline it goes
    /// before the statements that look them up by name); their ids.
    public static func ensure(app: String, environments first: String, _ second: String?) -> Fetch<(app: Int64, first: Int64, second: Int64?)> {
        Fetch("SELECT * FROM release_ensure(\(app), \(first), \(second))") { rows in
            guard let row = rows.first else { throw PostgresError(kind: .decoding, message: "Could not register app \(app).") }
            return (try row.int64("app_id"), try row.int64("first_id"), try row.optionalInt64("second_id"))
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
        deployment(id: .known(id))
    }

    /// A deployment by an id the statement computes.
    public static func deployment(id: ID) -> Fetch<DeploymentRecord?> {
        Fetch("\(unsafeSQL: deploymentSelect) WHERE d.id = \(id.sql)") { rows in try rows.first?.deploymentRecord() }
    }

    /// A release by id.
    public static func release(id: Int64?) -> Fetch<ReleaseRecord?> {
        release(id: .known(id))
    }

    /// A release by an id the statement computes.
    public static func release(id: ID) -> Fetch<ReleaseRecord?> {
        Fetch("SELECT \(unsafeSQL: releaseColumns) FROM releases WHERE id = \(id.sql)") { rows in try rows.first?.releaseRecord() }
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
        latestChecks(release: .known(release))
    }

    /// The latest result of each check of a release the statement finds.
    public static func latestChecks(release: ID) -> Fetch<[String: CheckStatus]> {
        Fetch(
            """
            SELECT DISTINCT ON (name) name, status FROM checks WHERE release_id = \(release.sql) ORDER BY name, id DESC
            """
        ) { rows in
            var checks: [String: CheckStatus] = [:]
            for row in rows { checks[try row.string("name")] = CheckStatus(rawValue: try row.string("status")) }
            return checks
        }
    }

    /// Who approved a release for an environment, since an instant.
    public static func approvers(environment: Int64?, release: Int64?, since: Timestamp?) -> Fetch<[String]> {
        approvers(environment: .known(environment), release: .known(release), since: "\(since)::timestamptz")
    }

    /// The same, of ids and an instant (`since`, a timestamptz expression) the statement computes.
    public static func approvers(environment: ID, release: ID, since: PostgresQuery) -> Fetch<[String]> {
        Fetch(
            """
            SELECT DISTINCT approver FROM approvals
            WHERE environment_id = \(environment.sql) AND release_id = \(release.sql)
              AND ((\(since)) IS NULL OR approved_at >= (\(since)))
              -- Under enforced identity, only verified persons' approvals count (as the database checks).
              AND NOT automation AND (login IS NOT NULL OR NOT EXISTS (SELECT 1 FROM access_enforcement))
            ORDER BY approver
            """
        ) { rows in try rows.map { try $0.string("approver") } }
    }

    /// The id the next deployment will have (`PostgresConnection.startDeployment`), or nil
    /// without `reserve` (the statement still travels, so a pipeline keeps its shape).
    public static func nextDeploymentID(reserve: Bool) -> Fetch<Int64?> {
        Fetch(reserve ? "SELECT release_next_deployment_id() AS id" : "SELECT NULL::bigint AS id") { rows in
            try rows.first?.optionalInt64("id")
        }
    }

    /// The release `version` of `app` with the app's id; a usage error (22023) naming what to run
    /// when there is none.
    public static func requireRelease(app: String, version: String) -> Fetch<(app: Int64, release: ReleaseRecord)> {
        Fetch("SELECT * FROM release_require_release(\(app), \(version))") { rows in
            guard let row = rows.first else { throw PostgresError(kind: .decoding, message: "release_require_release returned nothing") }
            return (try row.int64("app_id"), try row.releaseRecord())
        }
    }

    /// Whether this run still holds a deployment's lease; locks the row until the transaction ends.
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

/// An id a statement needs: one already known, or one the statement computes from what earlier
/// statements of the same round trip wrote or what it can look up by name, so that a command
/// need not read ids first. Each is a `bigint` expression, NULL when nothing matches.
public struct ID: Sendable {
    /// The expression.
    public let sql: PostgresQuery

    /// An id known already (nil: NULL).
    public static func known(_ id: Int64?) -> ID { ID(sql: "\(id)::bigint") }

    /// The environment `name` of `app`.
    public static func environment(app: String, named name: String) -> ID {
        ID(sql: "(SELECT e.id FROM environments e JOIN apps a ON a.id = e.app_id WHERE a.name = \(app) AND e.name = \(name))")
    }

    /// The release `version` of `app`.
    public static func release(app: String, version: String) -> ID {
        ID(sql: "(SELECT r.id FROM releases r JOIN apps a ON a.id = r.app_id WHERE a.name = \(app) AND r.version = \(version))")
    }

    /// The release `environment` serves now (its open occupancy).
    public static func live(in environment: ID) -> ID {
        ID(sql: "(SELECT o.release_id FROM occupancy o WHERE o.environment_id = \(environment.sql) AND upper_inf(o.during))")
    }

    /// The deployment that made `release` live in `environment`, if it still is.
    public static func liveDeployment(in environment: ID, of release: ID) -> ID {
        ID(
            sql: """
                (SELECT o.deployment_id FROM occupancy o
                 WHERE o.environment_id = \(environment.sql) AND upper_inf(o.during) AND o.release_id = \(release.sql))
                """)
    }

    /// The most recent deployment that verified `release` in `environment`: a rollback's target.
    public static func lastVerified(in environment: ID, release: ID) -> ID {
        ID(
            sql: """
                (SELECT d.id FROM deployments d WHERE d.environment_id = \(environment.sql) AND d.release_id = \(release.sql) AND d.verified
                 ORDER BY d.id DESC LIMIT 1)
                """)
    }

    /// The most recent deployment that verified a release in `environment` other than
    /// `excluding` (NULL: none excluded), never a quarantined one: the default rollback target.
    public static func lastVerified(in environment: ID, excluding: ID) -> ID {
        ID(
            sql: """
                (SELECT d.id FROM deployments d JOIN releases r ON r.id = d.release_id
                 WHERE d.environment_id = \(environment.sql) AND d.verified AND r.quarantined_at IS NULL
                   AND d.release_id IS DISTINCT FROM \(excluding.sql)
                 ORDER BY d.id DESC LIMIT 1)
                """)
    }

    /// Since when `environment` serves what it serves now: a `timestamptz` expression.
    public static func liveSince(in environment: ID) -> PostgresQuery {
        "(SELECT lower(o.during) FROM occupancy o WHERE o.environment_id = \(environment.sql) AND upper_inf(o.during))"
    }

    /// The release a deployment deployed.
    public static func release(of deployment: ID) -> ID {
        ID(sql: "(SELECT d.release_id FROM deployments d WHERE d.id = \(deployment.sql))")
    }
}
