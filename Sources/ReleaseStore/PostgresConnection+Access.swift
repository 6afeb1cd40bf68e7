import Postgres
import ReleaseCore

/// Who a connection is, as the database sees it (`release_whoami()`).
public struct Identity: Sendable, Equatable {
    /// PostgreSQL's session_user: the login the connection authenticated as.
    public var login: String
    /// The person the login maps to (the login itself when unmapped).
    public var person: String
    /// An automation login (CI), never a person who approves.
    public var automation: Bool
    /// Whether this automation login may name the person it acts for.
    public var onBehalf: Bool
    /// May change the login map and the policy.
    public var admin: Bool
    /// Whether `release access enforce` has switched enforcement on for this database.
    public var enforced: Bool

    /// "human" or "automation", as the JSON says.
    public var kind: String { automation ? "automation" : "human" }

    /// Creates an identity.
    public init(login: String, person: String, automation: Bool, onBehalf: Bool, admin: Bool, enforced: Bool) {
        self.login = login
        self.person = person
        self.automation = automation
        self.onBehalf = onBehalf
        self.admin = admin
        self.enforced = enforced
    }
}

/// One row of the login map.
public struct LoginMapping: Sendable, Equatable {
    /// The PostgreSQL login.
    public var login: String
    /// The person it is.
    public var person: String
    /// An automation login (CI).
    public var automation: Bool
    /// May name the person it acts for.
    public var onBehalf: Bool
    /// The admin who granted it, and when.
    public var grantedBy: String
    /// When it was granted.
    public var grantedAt: Timestamp
}

/// What `release policy apply` stored for one environment: its gates, and where it takes
/// promotions from.
public struct StoredPolicy: Sendable, Equatable {
    /// The environment's name.
    public var environment: String
    /// Its gates block as JSON.
    public var gates: JSONValue
    /// The environment it takes promotions from; nil when it takes deploys.
    public var promoteFrom: String?
    /// Who applied it, and when.
    public var appliedBy: String
    /// When it was applied.
    public var appliedAt: Timestamp
}

extension Reads {
    /// Who the connection is (`release_whoami()`).
    public static let whoami = Fetch("SELECT * FROM release_whoami()") { rows in
        guard let row = rows.first else { throw PostgresError(kind: .decoding, message: "release_whoami() returned nothing") }
        return Identity(
            login: try row.string("login"), person: try row.string("person"), automation: try row.bool("automation"),
            onBehalf: try row.bool("on_behalf"), admin: try row.bool("admin"), enforced: try row.bool("enforced"))
    }
}

extension Reads {
    /// Who acts when the client claims `claimed`: the actor to record (the verified person under
    /// enforced identity) and the person a CI run acts for. The database refuses (RA001) a claim
    /// it does not accept.
    public static func act(claimed: String?) -> Fetch<(actor: String, onBehalfOf: String?)> {
        Fetch("SELECT actor, on_behalf_of FROM release_act(\(claimed))") { rows in
            guard let row = rows.first else { throw PostgresError(kind: .decoding, message: "release_act() returned nothing") }
            return (try row.string("actor"), try row.optionalString("on_behalf_of"))
        }
    }

    /// The stored gates of `app`'s environments, by environment name.
    public static func storedPolicies(app: String) -> Fetch<[StoredPolicy]> {
        Fetch(
            """
            SELECT e.name, p.gates, p.promote_from, p.applied_by, p.applied_at
            FROM policies p JOIN environments e ON e.id = p.environment_id JOIN apps a ON a.id = e.app_id
            WHERE a.name = \(app) ORDER BY e.name
            """
        ) { rows in
            try rows.map { row in
                StoredPolicy(
                    environment: try row.string("name"), gates: try row.json("gates"), promoteFrom: try row.optionalString("promote_from"),
                    appliedBy: try row.string("applied_by"),
                    appliedAt: try row.timestamp("applied_at"))
            }
        }
    }
}

extension PostgresConnection {
    /// Who this connection is. Every field comes from the database; nothing the client says counts.
    public func whoami() throws -> Identity {
        try fetch(Reads.whoami)
    }

    /// Switches enforcement on (admin only); false when it was on already.
    public func enforceAccess(app: String, ownerPerson: String, policy: JSONValue) throws -> Bool {
        try query("SELECT release_access_enforce(\(app), \(ownerPerson), \(policy)::jsonb) AS switched").first?.bool("switched") ?? false
    }

    /// Maps `login` to `person` (admin only: the database refuses anyone else), audited in `app`'s chain.
    public func grantAccess(app: String, login: String, person: String, automation: Bool, onBehalf: Bool) throws {
        try query("SELECT release_access_grant(\(app), \(login), \(person), \(automation), \(onBehalf))")
    }

    /// Removes `login`'s mapping (admin only); false when it had none.
    public func revokeAccess(app: String, login: String) throws -> Bool {
        try query("SELECT release_access_revoke(\(app), \(login)) AS revoked").first?.bool("revoked") ?? false
    }

    /// The login map, by login.
    public func loginMappings() throws -> [LoginMapping] {
        try query("SELECT login, person, automation, on_behalf, granted_by, granted_at FROM access_logins ORDER BY login").map { row in
            LoginMapping(
                login: try row.string("login"), person: try row.string("person"), automation: try row.bool("automation"),
                onBehalf: try row.bool("on_behalf"), grantedBy: try row.string("granted_by"),
                grantedAt: try row.timestamp("granted_at"))
        }
    }

    /// Stores the policy of `app`'s environments (admin only): each environment's name to
    /// `{"gates": …, "promote_from": …}` (`StoredPolicy.declared(by:)`); returns the environments
    /// whose stored policy changed.
    public func applyPolicy(app: String, policy: JSONValue) throws -> [String] {
        guard let row = try query("SELECT release_policy_apply(\(app), \(policy)::jsonb) AS changed").first,
            case .array(let names) = try row.json("changed")
        else { return [] }
        return names.compactMap(\.stringValue)
    }
}

extension StoredPolicy {
    /// The policy release.yml declares, as `applyPolicy` and `enforceAccess` take it.
    public static func declared(by configuration: ReleaseConfiguration) -> JSONValue {
        .object(
            configuration.environments.map { environment in
                (environment.name, .object([("gates", environment.gates.declared), ("promote_from", .optional(environment.promoteFrom))]))
            })
    }

    /// The stored gates, read by the same rules as release.yml's.
    public func gatePolicy() throws -> GatePolicy {
        try GatePolicy(stored: gates, environment: environment)
    }

    /// Where `environment` (as release.yml declares it) differs from `stored`, by release.yml key;
    /// with nothing stored, every gate it sets and its `promote_from`.
    public static func differences(_ stored: StoredPolicy?, from environment: EnvironmentConfiguration) throws -> [String] {
        let gates = try stored?.gatePolicy() ?? GatePolicy()
        let source = stored?.promoteFrom == environment.promoteFrom ? [] : ["promote_from"]
        return gates.differences(from: environment.gates) + source
    }
}
