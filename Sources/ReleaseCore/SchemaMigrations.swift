/// release.yml's `migrations:` block: where a release's schema migrations live in git, and how
/// they are linted and reversed.
public struct MigrationsConfiguration: Sendable, Equatable {
    /// How migration files are read.
    public enum Framework: String, Sendable, CaseIterable {
        /// Django's `migrations/NNNN_*.py`: classified from their operations.
        case django
        /// Any other: recorded, never classified (every one `unknown` unless `lint:` says).
        case generic
    }

    /// The framework.
    public var framework: Framework
    /// Globs, relative to the root of the git repository that holds release.yml.
    public var paths: [String]
    /// A linter command whose verdicts override the classifier; `{base}` is the commit compared with.
    public var lint: String?
    /// A command that reverses migrations (`{app}`, `{target}`); never run automatically.
    public var reverse: String?
    /// A command that prints the reverse plan (`{app}`, `{target}`); required with `reverse`.
    public var reversePlan: String?

    /// Creates the block.
    public init(framework: Framework, paths: [String], lint: String? = nil, reverse: String? = nil, reversePlan: String? = nil) {
        self.framework = framework
        self.paths = paths
        self.lint = lint
        self.reverse = reverse
        self.reversePlan = reversePlan
    }
}

/// What a schema migration does to code that still runs the release before it.
public enum MigrationClass: String, Sendable, CaseIterable, Comparable {
    /// Only adds: a new model, a nullable or defaulted field, an index. Older code runs on it.
    case compatible
    /// Drops, renames, alters, or adds NOT NULL without a default: older code breaks on it.
    case incompatible
    /// Changes data in a way that cannot be undone (RunPython without reverse_code, RunSQL
    /// without reverse_sql); the schema may still suit older code.
    case irreversible
    /// Not classified (no records, a generic framework, a file the classifier cannot read).
    case unknown

    /// Worse for a rollback sorts later: compatible < irreversible < incompatible < unknown.
    public static func < (lhs: MigrationClass, rhs: MigrationClass) -> Bool {
        let order: [MigrationClass] = [.compatible, .irreversible, .incompatible, .unknown]
        return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
    }

    /// Whether a rollback that crosses it (undoing nothing) leaves older code on a schema it cannot use.
    public var blocksRollback: Bool { self == .incompatible || self == .unknown }
}

/// One migration file as recorded for a release.
public struct MigrationRecord: Sendable, Equatable, Hashable {
    /// `app/NNNN_name` (Django: the app label and the file's name without `.py`); unique per release.
    public var id: String
    /// The file's path in the repository.
    public var path: String
    /// Its class.
    public var migrationClass: MigrationClass
    /// Whether the framework can reverse it (Django: every operation has a reverse).
    public var reversible: Bool
    /// Why it has its class, in words ("RemoveField contact.email"), for plans and messages.
    public var reason: String

    /// Creates a record.
    public init(id: String, path: String, migrationClass: MigrationClass, reversible: Bool, reason: String) {
        self.id = id
        self.path = path
        self.migrationClass = migrationClass
        self.reversible = reversible
        self.reason = reason
    }
}

/// What a move from the release an environment serves to another one crosses in the schema: the
/// set difference of the two releases' recorded migrations, so it needs no access to the
/// environment.
public struct SchemaMove: Sendable, Equatable {
    /// The version served now (nil: nothing is), and the version moved to.
    public var from: String?
    public var to: String
    /// What the target adds (it has them, the release served now does not); nil when unknown.
    public var added: [MigrationRecord]?
    /// What the target lacks (the release served now has them: going back, older code runs on
    /// them); nil when unknown.
    public var removed: [MigrationRecord]?
    /// Migrations acknowledged safe for a move back to the target (`release migrations ack`).
    public var acknowledged: Set<String>
    /// `--accept-schema --reason`: the reason a person accepted the crossing.
    public var acceptedReason: String?
    /// Whether `--reverse-migrations` asked for what the target lacks to be reversed first.
    public var reverseRequested: Bool
    /// What reversing undoes, app by app; nil when not requested or the records are unknown.
    public var reversal: MigrationReversal?

    /// The move between two releases' records (nil: never recorded, unknown).
    public init(
        from: String?, to: String, current: [MigrationRecord]??, target: [MigrationRecord]?, acknowledged: Set<String> = [],
        acceptedReason: String? = nil, reverse: Bool = false
    ) {
        self.from = from
        self.to = to
        self.acknowledged = acknowledged
        self.acceptedReason = acceptedReason
        reverseRequested = reverse
        switch current {
        case .none:
            // Nothing served before: the target adds everything it has.
            added = target
            removed = target == nil ? nil : []
        case let .some(records):
            guard let records, let target else {
                added = nil
                removed = nil
                return
            }
            let targetIDs = Set(target.map(\.id))
            let currentIDs = Set(records.map(\.id))
            added = target.filter { !currentIDs.contains($0.id) }
            let removed = records.filter { !targetIDs.contains($0.id) }
            self.removed = removed
            if reverse { reversal = MigrationReversal(removed: removed, target: target) }
        }
    }

    /// The migrations a move back leaves older code running on, that nothing covers: incompatible
    /// or unknown, not acknowledged. Nil when the records are unknown.
    public var uncovered: [MigrationRecord]? {
        removed?.filter { $0.migrationClass.blocksRollback && !acknowledged.contains($0.id) }
    }

    /// What the move crosses, for its audit event: the ids added and removed with their classes,
    /// and whether they are reversed first; nil when it crosses nothing or the records are unknown.
    public var audited: JSONValue? {
        guard let added, let removed, !(added.isEmpty && removed.isEmpty) else { return nil }
        func listed(_ records: [MigrationRecord]) -> JSONValue {
            .array(records.map { .object([("id", .string($0.id)), ("class", .string($0.migrationClass.rawValue))]) })
        }
        var fields: [(String, JSONValue)] = [("added", listed(added)), ("removed", listed(removed))]
        if reversal != nil { fields.append(("reversed_first", .bool(true))) }
        return .object(fields)
    }

    /// Migrations as plans list them: "crm/0003_drop_email (incompatible: RemoveField contact.email)".
    public static func listed(_ records: [MigrationRecord]) -> String {
        records.map { "\($0.id) (\($0.migrationClass.rawValue)\($0.reason.isEmpty ? "" : ": \($0.reason)"))" }.joined(separator: ", ")
    }
}
