import Foundation

/// What `release rollback --reverse-migrations` undoes before the older code goes back: for each
/// app with migrations the target release lacks, the target's last migration of that app (`zero`
/// when it has none). `reverse:` and `reverse_plan:` run once per step, `{app}` and `{target}`
/// filled from it.
public struct MigrationReversal: Sendable, Equatable {
    /// One app to migrate back.
    public struct Step: Sendable, Equatable {
        /// The app (`{app}`): Django's app label; for other frameworks the migration's directory.
        public var app: String
        /// Where the app goes back to (`{target}`): the target release's last migration of the app,
        /// or `zero`.
        public var target: String
        /// The migrations of the app it undoes, newest first.
        public var undoes: [MigrationRecord]

        /// Creates a step.
        public init(app: String, target: String, undoes: [MigrationRecord]) {
            self.app = app
            self.target = target
            self.undoes = undoes
        }

        /// `crm back to 0001_initial (undoes crm/0003_drop_email)`.
        public var described: String {
            "\(app) back to \(target) (undoes \(undoes.map(\.id).joined(separator: ", ")))"
        }
    }

    /// The steps, by app name.
    public var steps: [Step]

    /// The steps that undo `removed` (what the release served now has and the target has not),
    /// given the target's records.
    public init(removed: [MigrationRecord], target: [MigrationRecord]) {
        let byApp = Dictionary(grouping: removed) { Self.split($0.id).app }
        steps = byApp.keys.sorted().map { app in
            let last = target.map { Self.split($0.id) }.filter { $0.app == app }.map(\.name).max()
            let undoes = (byApp[app] ?? []).sorted { $0.id > $1.id }
            return Step(app: app, target: last ?? "zero", undoes: undoes)
        }
    }

    /// A migration id's app and name: `crm/0003_drop_email` → (`crm`, `0003_drop_email`); a
    /// generic framework's path `db/migrations/0003_drop.sql` → (`db/migrations`, `0003_drop`).
    public static func split(_ id: String) -> (app: String, name: String) {
        let slash = id.lastIndex(of: "/")
        let app = slash.map { String(id[..<$0]) } ?? ""
        var name = slash.map { String(id[id.index(after: $0)...]) } ?? id
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        return (app, name)
    }
}

/// What a reverse plan (`reverse_plan:`, such as Django's `migrate APP TARGET --plan`) printed.
/// Django lists each migration it would unapply on a line of its own, its operations indented
/// under it, and an operation it cannot reverse ends in `-> IRREVERSIBLE`; it still exits 0, so
/// the text is what tells.
public struct ReversePlanOutput: Sendable, Equatable {
    /// The migrations the plan would unapply (Django: `crm.0003_drop_email`), in its order.
    public var migrations: [String]
    /// The operations it cannot reverse, each with its migration: `crm.0002_backfill: Raw Python
    /// operation -> IRREVERSIBLE`.
    public var irreversible: [String]

    /// Reads the plan's standard output.
    public init(_ text: String) {
        migrations = []
        irreversible = []
        var current: String?
        for line in text.split(whereSeparator: \.isNewline).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            if line.first?.isWhitespace == true {
                if trimmed.uppercased().contains("IRREVERSIBLE") {
                    irreversible.append(current.map { "\($0): \(trimmed)" } ?? trimmed)
                }
            } else if !trimmed.hasSuffix(":") {
                // A heading that ends in ':' ("Planned operations:") introduces the list.
                current = trimmed
                migrations.append(trimmed)
                if trimmed.uppercased().contains("IRREVERSIBLE") { irreversible.append(trimmed) }
            }
        }
    }
}
