import Postgres
import ReleaseCore
import ReleaseStore

/// Identity and access: who the database says this connection is, the login map and the stored
/// policy. The database checks who may change them; these only ask.
extension Engine {
    /// `release access enforce`: switches enforcement on for this database, once; this login is
    /// mapped to the name it acted under so far (unless mapped already), and `declared`'s gates
    /// (release.yml as written) are stored for the environments with no stored policy. Returns
    /// whether it switched (false when it was on already) and who this login now is.
    public func enforceAccess(declared: ReleaseConfiguration) async throws -> (switched: Bool, identity: Identity) {
        let (app, person, policy) = (self.app, actor, StoredPolicy.declared(by: declared))
        return try await transaction { db in
            (try db.enforceAccess(app: app, ownerPerson: person, policy: policy), try db.whoami())
        }
    }

    /// `release unquarantine`: lifts a release's quarantine (release_admin only, as the database
    /// decides), audited with the reason. False when it was not quarantined.
    public func unquarantine(version: String, reason: String) async throws -> Bool {
        let engine = self
        return try await transaction { db in
            let (appID, release) = try engine.requireRelease(version, in: db)
            guard try db.unquarantine(release: release.id) else { return false }
            try db.appendAudit(
                app: appID, actor: engine.claimedActor, action: "release.unquarantined", environment: nil, version: version,
                details: .object([("reason", .string(reason)), ("was", .optional(release.quarantineReason))]))
            return true
        }
    }

    /// `release access grant`: maps `login` to `person`.
    public func grantAccess(login: String, person: String, automation: Bool, onBehalf: Bool) async throws {
        let app = self.app
        try await transaction { db in
            try db.grantAccess(app: app, login: login, person: person, automation: automation, onBehalf: onBehalf)
        }
    }

    /// `release access revoke`: false when the login had no mapping.
    public func revokeAccess(login: String) async throws -> Bool {
        let app = self.app
        return try await transaction { db in try db.revokeAccess(app: app, login: login) }
    }

    /// `release access list`.
    public func loginMappings() async throws -> [LoginMapping] {
        try await database { db in try db.loginMappings() }
    }

    /// `release policy apply`: stores every environment's gates from `declared` (release.yml as
    /// written, not the stored policy the engine runs under); returns the environments whose
    /// stored gates changed.
    public func applyPolicy(declared: ReleaseConfiguration) async throws -> [String] {
        let (app, policy) = (self.app, StoredPolicy.declared(by: declared))
        return try await transaction { db in try db.applyPolicy(app: app, policy: policy) }
    }

    /// `release policy show`: what is stored, and for each environment of `declared` (release.yml
    /// as written) the gates whose settings there differ from it (every gate when nothing is
    /// stored for it).
    public func storedPolicy(
        declared: ReleaseConfiguration
    ) async throws -> [(environment: String, stored: StoredPolicy?, differences: [String])] {
        let app = self.app
        let stored = try await database { db in try db.fetch(Reads.storedPolicies(app: app)) }
        return try declared.environments.map { environment in
            let policy = stored.first { $0.environment == environment.name }
            return (environment.name, policy, try StoredPolicy.differences(policy, from: environment))
        }
    }
}
