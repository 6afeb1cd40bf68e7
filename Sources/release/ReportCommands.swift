import ArgumentParser
import Foundation
import ReleaseCore
import ReleaseEngine
import ReleaseStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "What is live where, since when, by whom, health, what is "
            + "in flight.")

    @Argument(help: "Only this environment.") var environment: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let context = try await CommandContext.make(global)
        let statuses = try await context.engine.status(environment: environment)
        if global.json {
            context.output.document(.object([("environments", .array(statuses.map(ReportJSON.environment)))]))
            return
        }
        context.output.table(
            ["ENVIRONMENT", "LIVE", "SINCE", "BY", "HEALTH", "IN FLIGHT", "FROZEN"],
            statuses.map { status in
                [
                    status.name, status.live?.version ?? "-", status.live?.since.rfc3339 ?? "-", status.live?.by ?? "-", status.health,
                    status.inFlight.map { "\($0.kind.rawValue) \($0.version) (\($0.state.rawValue), \($0.by)\($0.detail.map { ": \($0)" } ?? ""))" }
                        ?? "-",
                    status.freezeReasons.isEmpty
                        ? "no"
                        : "yes: " + status.freezeReasons.joined(separator: "; ")
                            + (status.frozenUntil.map {
                                " "
                                    + "until \($0)"
                            } ?? ""),
                ]
            })
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Deployments, newest first.")

    @Argument(help: "Only this environment.") var environment: String?
    @Option(parsing: .unconditional, help: "How many.") var limit = 20
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let limit = try Inputs.limit(limit)
        let context = try await CommandContext.make(global)
        let deployments = try await context.engine.history(environment: environment, limit: limit)
        if global.json {
            context.output.document(.object([("deployments", .array(deployments.map(ReportJSON.deployment)))]))
            return
        }
        if deployments.isEmpty {
            context.output.line("No deployments yet.")
            return
        }
        context.output.table(
            ["ID", "ENVIRONMENT", "VERSION", "KIND", "STATE", "BY", "STARTED", "FINISHED", "DETAIL"],
            deployments.map { deployment in
                [
                    String(deployment.id), deployment.environment, deployment.version, deployment.kind.rawValue, deployment.state.rawValue,
                    ActorLabel.text(deployment.by, login: deployment.login, onBehalfOf: deployment.onBehalfOf, enforced: context.enforced),
                    deployment.startedAt.rfc3339, deployment.finishedAt?.rfc3339 ?? "-",
                    (deployment.reason ?? deployment.detail).map { $0.count > 80 ? String($0.prefix(80)) + "…" : $0 } ?? "",
                ]
            })
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The audit trail; `--at TIME` for what was live then; `audit verify` to prove it unaltered.",
        subcommands: [AuditListCommand.self, AuditVerifyCommand.self], defaultSubcommand: AuditListCommand.self)
}

struct AuditListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show audit events (the default).")

    @Option(help: "Only events of this environment.") var env: String?
    @Option(parsing: .unconditional, help: "From this time (RFC 3339), inclusive.") var since: String?
    @Option(parsing: .unconditional, help: "Until this time (RFC 3339), exclusive.") var until: String?
    @Option(parsing: .unconditional, help: "What was live in each environment at this time (RFC 3339).") var at: String?
    @Option(help: "table, json or csv.") var format: String?
    @Option(parsing: .unconditional, help: "Only the latest this many events (still printed oldest first).") var limit: Int?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let since = try since.map { try Inputs.time($0, option: "--since") }
        let until = try until.map { try Inputs.time($0, option: "--until") }
        let at = try at.map { try Inputs.time($0, option: "--at") }
        let limit = try limit.map(Inputs.limit)
        if let since, let until, until <= since { throw ReleaseError.usage("--until must be later than --since.") }
        let chosen = format ?? (global.json ? "json" : "table")
        guard ["table", "json", "csv"].contains(chosen) else {
            throw ReleaseError.usage("--format '\(Identifier.shown(chosen))' is not known: use table, json or csv.")
        }
        if at != nil, since != nil || until != nil || env != nil {
            throw ReleaseError.usage("--at answers for every environment at one instant; leave out --env, --since and --until.")
        }
        let context = try await CommandContext.make(global)
        if let at {
            let live = try await context.engine.liveAt(at)
            if chosen == "json" {
                context.output.document(.object([("at", .string(at.rfc3339)), ("environments", .array(live.map(ReportJSON.liveAt)))]))
            } else if chosen == "csv" {
                context.output.line("environment,version,since,by")
                for (name, release) in live {
                    context.output.line(
                        [name, release?.version ?? "", release?.since.rfc3339 ?? "", release?.by ?? ""]
                            .map(CSV.field).joined(separator: ","))
                }
            } else {
                context.output.line("Live at \(at.rfc3339):")
                context.output.table(
                    ["ENVIRONMENT", "VERSION", "SINCE", "BY"],
                    live.map { name, release in
                        [name, release?.version ?? "(nothing)", release?.since.rfc3339 ?? "-", release?.by ?? "-"]
                    })
            }
            return
        }
        let events = try await context.engine.audit(environment: env, since: since, until: until, limit: limit)
        switch chosen {
        case "json":
            context.output.document(.object([("events", .array(events.map(ReportJSON.auditEvent)))]))
        case "csv":
            context.output.line("id,at,actor,action,environment,version,details")
            for event in events {
                context.output.line(
                    [
                        String(event.id), event.at.rfc3339, event.actor, event.action, event.environment ?? "",
                        event.version ?? "", event.details,
                    ].map(CSV.field).joined(separator: ","))
            }
        default:
            if events.isEmpty {
                context.output.line("No audit events match.")
                return
            }
            context.output.table(
                ["#", "AT", "ACTOR", "ACTION", "ENV", "VERSION", "DETAILS"],
                events.map { event in
                    [
                        String(event.sequence), event.at.rfc3339,
                        ActorLabel.text(event.actor, login: event.login, onBehalfOf: event.onBehalfOf, enforced: context.enforced), event.action,
                        event.environment ?? "-", event.version ?? "-",
                        event.details.count > 100 ? String(event.details.prefix(100)) + "…" : event.details,
                    ]
                })
        }
    }
}

struct AuditVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check that the audit trail has not been altered.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let context = try await CommandContext.make(global)
        let checked = try await context.engine.verifyAudit()
        if global.json {
            context.output.document(.object([("verified", .bool(true)), ("events", .int(checked)), ("app", .string(context.configuration.app))]))
        } else {
            context.output.line(
                "The audit trail of \(context.configuration.app) is intact: \(checked) event\(checked == 1 ? "" : "s"), every "
                    + "hash matches its contents and its predecessor.")
        }
    }
}

/// RFC 4180 fields.
enum CSV {
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
