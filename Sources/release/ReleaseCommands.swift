import ArgumentParser
import Foundation
import Postgres
import ReleaseCore
import ReleaseEngine
import ReleaseStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (safe to run "
            + "concurrently and repeatedly).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let output = Output(global)
        let connection = try await CommandContext.connect(global)
        let applied: [String]
        do {
            applied = try await Migrator().migrate(connection)
        } catch let error as PostgresError {
            throw DatabaseFailure.translate(error)
        }
        if global.json {
            output.document(
                .object([
                    ("applied", .array(applied.map(JSONValue.string))),
                    ("schema_version", .int(Int64(Migration.latestVersion))),
                ]))
        } else if applied.isEmpty {
            output.line("The schema is up to date (version \(Migration.latestVersion)).")
        } else {
            for name in applied { output.line("applied \(name)") }
            output.line("The schema is at version \(Migration.latestVersion).")
        }
    }
}

struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Register a release (the same call again is a no-op).")

    @Argument(help: "The version, such as 1.4.2.") var version: String
    @Option(help: "The commit SHA the release was built from.") var commit: String?
    @Option(help: "The artifact to deploy (tarball URL, image reference, path).") var artifact: String?
    @Option(parsing: .unconditional, help: "Release notes.") var notes: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try Inputs.version(version)
        let commit = try commit.map(Inputs.commit)
        let artifact = try artifact.map(Inputs.artifact)
        let notes = try notes.map { try Inputs.text($0, what: "--notes", maxLength: 10_000, required: false) }
        let context = try await CommandContext.make(global)
        let (release, created) = try await context.engine.createRelease(version: version, commit: commit, artifact: artifact, notes: notes)
        if global.json {
            context.output.document(.object([("release", ReportJSON.release(release)), ("created", .bool(created))]))
        } else if created {
            context.output.line("Registered \(release.version)\(release.commit.map { " (commit \($0))" } ?? "").")
        } else {
            context.output.line("\(release.version) is already registered with the same values; nothing changed.")
        }
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Releases, newest first.")

    @Option(parsing: .unconditional, help: "How many.") var limit = 20
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let limit = try Inputs.limit(limit)
        let context = try await CommandContext.make(global)
        let releases = try await context.engine.releases(limit: limit)
        if global.json {
            context.output.document(.object([("releases", .array(releases.map(ReportJSON.release)))]))
            return
        }
        if releases.isEmpty {
            context.output.line("No releases yet. Register one with `release create VERSION`.")
            return
        }
        context.output.table(
            ["VERSION", "COMMIT", "CREATED", "BY", "QUARANTINED"],
            releases.map { release in
                [
                    release.version, release.commit.map { String($0.prefix(12)) } ?? "-", release.createdAt.rfc3339, release.createdBy,
                    release.quarantineReason.map { "yes: \($0)" } ?? "no",
                ]
            })
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Record a CI check result for a release.")

    @Argument(help: "The version.") var version: String
    @Argument(help: "The check's name, such as tests.") var name: String
    @Argument(help: "passed, failed or pending.") var status: String
    @Option(help: "A link to the CI run.") var url: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try Inputs.version(version)
        let name = try Inputs.name(name, what: "check name")
        guard let status = CheckStatus(rawValue: status) else {
            throw ReleaseError.usage("'\(Identifier.shown(status))' is not a check status: use passed, failed or pending.")
        }
        let url = try url.map { try Inputs.url($0, what: "--url") }
        let context = try await CommandContext.make(global)
        try await context.engine.recordCheck(version: version, name: name, status: status, url: url)
        if global.json {
            context.output.document(
                .object([
                    (
                        "check",
                        .object([
                            ("version", .string(version)), ("name", .string(name)),
                            ("status", .string(status.rawValue)),
                        ])
                    )
                ]))
        } else {
            context.output.line("Recorded \(name) \(status.rawValue) for \(version).")
        }
    }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Approve a version for an environment.")

    @Argument(help: "The environment.") var environment: String
    @Argument(help: "The version.") var version: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try Inputs.version(version)
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        try await context.engine.approve(environment: target, version: version)
        if global.json {
            context.output.document(
                .object([
                    (
                        "approval",
                        .object([
                            ("environment", .string(target.name)), ("version", .string(version)),
                            ("by", .string(context.engine.actor)),
                        ])
                    )
                ]))
        } else {
            context.output.line("\(context.engine.actor) approved \(version) for \(target.name).")
        }
    }
}

struct UnquarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unquarantine", abstract: "Lift a release's quarantine (release_admin only once identity is enforced).")

    @Argument(help: "The version.") var version: String
    @Option(parsing: .unconditional, help: "Why (required).") var reason: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try Inputs.version(version)
        guard let reason else { throw ReleaseError.usage("`release unquarantine` needs --reason: say why \(version) may ship again.") }
        let why = try Inputs.text(reason, what: "--reason", maxLength: 1000)
        let context = try await CommandContext.make(global)
        let lifted = try await context.engine.unquarantine(version: version, reason: why)
        if global.json {
            context.output.document(.object([("unquarantined", .object([("version", .string(version)), ("changed", .bool(lifted))]))]))
        } else {
            context.output.line(lifted ? "\(version) may be deployed again." : "\(version) was not quarantined; nothing changed.")
        }
    }
}

struct RejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject",
        abstract: "Quarantine a release: it can never be deployed or "
            + "promoted again.")

    @Argument(help: "The version.") var version: String
    @Option(parsing: .unconditional, help: "Why (required).") var reason: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try Inputs.version(version)
        guard let reason else { throw ReleaseError.usage("`release reject` needs --reason: say why \(version) must never ship.") }
        let why = try Inputs.text(reason, what: "--reason", maxLength: 1000)
        let context = try await CommandContext.make(global)
        let liveOn = try await context.engine.reject(version: version, reason: why)
        if global.json {
            context.output.document(
                .object([
                    (
                        "rejected",
                        .object([
                            ("version", .string(version)), ("reason", .string(why)),
                            ("live_on", .array(liveOn.map(JSONValue.string))),
                        ])
                    )
                ]))
            return
        }
        context.output.line("\(version) is quarantined: it can never be deployed or promoted again.")
        for name in liveOn {
            context.output.line("It is still live on \(name): run `release rollback \(name) --reason …` to take it off.")
        }
    }
}

/// JSON shapes shared by several commands.

struct MigrationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrations", abstract: "The schema migrations recorded for a release, and acknowledging one (expand/contract).",
        subcommands: [ShowCommand.self, AckCommand.self])

    struct ShowCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "The migrations recorded for a release at create.")

        @Argument(help: "The version.") var version: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let version = try Inputs.version(version)
            let context = try await CommandContext.make(global)
            let records = try await context.engine.migrations(of: version)
            if global.json {
                context.output.document(
                    .object([
                        ("version", .string(version)), ("recorded", .bool(records != nil)),
                        ("migrations", .array((records ?? []).map(MigrationsCommand.json))),
                    ]))
            } else if let records {
                if records.isEmpty { context.output.line("\(version) has no migrations.") }
                context.output.table(
                    ["MIGRATION", "CLASS", "REVERSIBLE", "WHY", "PATH"],
                    records.map { [$0.id, $0.migrationClass.rawValue, $0.reversible ? "yes" : "no", $0.reason, $0.path] })
            } else {
                context.output.line(
                    "\(version)'s migrations were not recorded (created without --commit, or before `migrations:`): every move across it "
                        + "counts as crossing unknown migrations.")
            }
        }
    }

    struct AckCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ack",
            abstract: "Say that the code of a release (and every later one) no longer needs what a migration removed; audited.",
            discussion: "The expand/contract step: once R's code no longer reads a column that MIGRATION of V drops, rollbacks from V to R "
                + "or any later release may cross MIGRATION.")

        @Argument(help: "The version that has the migration.") var version: String
        @Argument(help: "The migration, as `migrations show` names it (crm/0003_drop_email).") var migration: String
        @Option(name: .customLong("safe-back-to"), help: "The oldest release whose code runs on the schema without it.")
        var safeBackTo: String
        @Option(parsing: .unconditional, help: "Why (required).") var reason: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let version = try Inputs.version(version)
            let safe = try Inputs.version(safeBackTo)
            guard let reason else { throw ReleaseError.usage("`release migrations ack` needs --reason: say how you know it is safe.") }
            let why = try Inputs.text(reason, what: "--reason", maxLength: 1000)
            let context = try await CommandContext.make(global)
            try await context.engine.acknowledge(migration: migration, of: version, safeBackTo: safe, reason: why)
            context.output.line("Rollbacks from \(version) to \(safe) or later may cross \(migration).")
        }
    }

    /// A migration as `--json` shows it.
    static func json(_ record: MigrationRecord) -> JSONValue {
        .object([
            ("id", .string(record.id)), ("path", .string(record.path)), ("class", .string(record.migrationClass.rawValue)),
            ("reversible", .bool(record.reversible)), ("reason", .string(record.reason)),
        ])
    }
}

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "What lies between two releases: their commits (git), notes, and the migrations added and removed.")

    @Argument(help: "The release moved from.") var from: String
    @Argument(help: "The release moved to.") var to: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let (a, b) = (try Inputs.version(from), try Inputs.version(to))
        let context = try await CommandContext.make(global)
        let diff = try await context.engine.diff(from: a, to: b)
        let commits = diff.commits.map { range in range.added.isEmpty ? range.removed : range.added } ?? []
        if global.json {
            let migrations: (([MigrationRecord]?) -> JSONValue) = { $0.map { .array($0.map(MigrationsCommand.json)) } ?? .null }
            context.output.document(
                .object([
                    ("from", .string(a)), ("to", .string(b)),
                    ("direction", .optional(diff.commits?.direction.rawValue)),
                    ("commits", .array(commits.map { .object([("sha", .string($0.sha)), ("subject", .string($0.subject))]) })),
                    ("notes", .object([("from", .optional(diff.from.notes)), ("to", .optional(diff.to.notes))])),
                    ("migrations", .object([("added", migrations(diff.added)), ("removed", migrations(diff.removed))])),
                ]))
            return
        }
        if let range = diff.commits {
            let way = ["forward": "brings", "backward": "takes away", "same": "has", "diverged": "differs by"][range.direction.rawValue] ?? "has"
            context.output.line("\(b) \(way) \(commits.count) commit\(commits.count == 1 ? "" : "s") compared with \(a):")
            for commit in commits { context.output.line("  \(commit.sha.prefix(10)) \(commit.subject)") }
        } else {
            context.output.line("Commits: unknown (\(diff.commitsUnknown ?? "no commits recorded")).")
        }
        for (name, notes) in [(a, diff.from.notes), (b, diff.to.notes)] where notes != nil {
            context.output.line("Notes of \(name): \(notes ?? "")")
        }
        for (what, records) in [("added", diff.added), ("removed", diff.removed)] {
            guard let records else {
                context.output.line("Migrations \(what): unknown (not recorded for \(a) or \(b)).")
                continue
            }
            context.output.line("Migrations \(what): " + (records.isEmpty ? "none" : SchemaMove.listed(records)))
        }
    }
}
