import ArgumentParser
import Foundation
import ReleaseCore
import ReleaseEngine

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deploy", abstract: "Deploy a release to an environment that has no promote_from.")

    @Argument(help: "The version.") var version: String
    @Argument(help: "The environment.") var environment: String
    @Flag(help: "Override a freeze (needs --reason; audited).") var force = false
    @Option(parsing: .unconditional, help: "Why (required with --force).") var reason: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try Inputs.version(version)
        let reason = try OperationOptions.reason(reason, force: force)
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        let plan = OperationPlan(kind: .deploy, environment: target, version: version, reason: reason, force: force)
        try await OperationOptions.report(try await context.engine.run(plan), context)
    }
}

struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Put the release live on FROM onto TO through the gates, verify it, roll back on failure.",
        discussion: "--dry-run prints every gate, pass or fail, with the earliest time a time-based gate can pass, and changes nothing (exit 3 "
            + "when a gate would refuse).")

    @Argument(help: "The source environment, such as develop.") var from: String
    @Argument(help: "The target environment, such as main.") var to: String
    @Option(help: "The version; must be the one live on FROM.") var version: String?
    @Flag(name: .customLong("dry-run"), help: "Evaluate the gates and change nothing.") var dryRun = false
    @Flag(help: "Override a freeze (needs --reason; allowed actors only; audited).") var force = false
    @Option(parsing: .unconditional, help: "Why (required with --force).") var reason: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try version.map(Inputs.version)
        let reason = try OperationOptions.reason(reason, force: force)
        let context = try await CommandContext.make(global)
        let source = try context.configuration.environment(named: from)
        let target = try context.configuration.environment(named: to)
        if let expected = target.promoteFrom, expected != source.name {
            throw ReleaseError.usage(
                "'\(target.name)' receives promotions from \(expected), not \(source.name). Run `release promote "
                    + "\(expected) \(target.name)`.")
        }
        if source.name == target.name { throw ReleaseError.usage("Promote from one environment to another, such as `release promote develop main`.") }
        let plan = OperationPlan(kind: .promote, environment: target, version: version, source: source, reason: reason, force: force)
        if dryRun {
            try await OperationOptions.dryRun(plan, context) { release in
                "Promotion of \(release ?? "nothing") from \(source.name) to \(target.name)"
            }
            return
        }
        try await OperationOptions.report(try await context.engine.run(plan), context)
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Put the previous good release (or --to VERSION) back. "
            + "Never frozen.")

    @Argument(help: "The environment.") var environment: String
    @Option(help: "The version to go back to (it must have been verified live there).") var to: String?
    @Option(parsing: .unconditional, help: "Why (required).") var reason: String?
    @Flag(help: "List every gate and every schema migration the rollback would cross, and change nothing (exit 3 when refused).")
    var plan = false
    @Flag(
        name: .customLong("accept-schema"),
        help: "Roll back across migrations the older code may not run on (incompatible or unknown); --reason says why; audited.")
    var acceptSchema = false
    @Flag(
        name: .customLong("reverse-migrations"),
        help: ArgumentHelp(
            "Undo the migrations the older release lacks with release.yml's reverse: command before the code goes back, "
                + "after reading its reverse_plan: (refused when it shows anything irreversible)."))
    var reverseMigrations = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let version = try to.map(Inputs.version)
        let why = try reason.map { try Inputs.text($0, what: "--reason", maxLength: 1000) }
        guard let why = why ?? (plan && !acceptSchema ? "" : nil) else {
            throw ReleaseError.usage("`release rollback` needs --reason: say what is wrong, for the audit trail.")
        }
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        var operation = OperationPlan(kind: .rollback, environment: target, version: version, reason: why.isEmpty ? nil : why)
        operation.acceptSchema = acceptSchema
        operation.reverseMigrations = reverseMigrations
        if plan {
            let reverse = reverseMigrations ? try await context.engine.reversePlan(operation) : nil
            try await OperationOptions.dryRun(operation, context, reverse: reverse) { release in
                "Rollback of \(target.name) to \(release ?? "the last verified release")"
            }
            return
        }
        try await OperationOptions.report(try await context.engine.run(operation), context)
    }
}

struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Settle operations that a crashed or killed run left in "
            + "flight.")

    @Argument(help: "Only this environment.") var environment: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let context = try await CommandContext.make(global)
        let reports = try await context.engine.recover(environment: environment)
        if global.json {
            context.output.document(
                .object([
                    (
                        "recovered",
                        .array(
                            reports.map { report in
                                .object([
                                    ("id", .int(report.deploymentID)), ("environment", .string(report.environment)),
                                    ("version", .string(report.version)), ("settled", .bool(report.settled)), ("message", .string(report.message)),
                                ])
                            })
                    )
                ]))
        } else if reports.isEmpty {
            context.output.line("Nothing is in flight\(environment.map { " on \($0)" } ?? ""); nothing to recover.")
        } else {
            for report in reports {
                context.output.line("deployment \(report.deploymentID) (\(report.version) on \(report.environment)): \(report.message)")
            }
        }
        // A failure outranks a run left alone, which outranks success.
        for report in reports {
            if case let .failed(code) = report.outcome { throw ExitCode(code.rawValue) }
        }
        if reports.contains(where: { $0.outcome == .stillRunning }) { throw ExitCode(ReleaseError.Code.busy.rawValue) }
    }
}

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "probe", abstract: "Run the health probes now, all at once, each to its verdict.")

    @Argument(help: "Environments (default: every one with a health block).") var environments: [String] = []
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let context = try await CommandContext.make(global)
        let verdicts = try await context.engine.probe(environments: environments)
        if global.json {
            context.output.document(
                .object([
                    (
                        "probes",
                        .array(
                            verdicts.map { name, verdict in
                                .object([
                                    ("environment", .string(name)), ("healthy", .bool(verdict.passed)), ("attempts", .int(Int64(verdict.attempts))),
                                    ("detail", .string(verdict.detail)), ("seconds", .double(verdict.elapsed.seconds)),
                                ])
                            })
                    )
                ]))
        } else {
            context.output.table(
                ["ENVIRONMENT", "HEALTH", "ATTEMPTS", "DETAIL"],
                verdicts.map { name, verdict in
                    [name, verdict.passed ? "healthy" : "UNHEALTHY", String(verdict.attempts), verdict.detail]
                })
        }
        if verdicts.contains(where: { !$0.1.passed }) { throw ExitCode(ReleaseError.Code.deploymentFailed.rawValue) }
    }
}

enum OperationOptions {
    static func reason(_ reason: String?, force: Bool) throws -> String? {
        if force, reason == nil { throw ReleaseError.usage("--force needs --reason: say why the freeze must be overridden, for the audit trail.") }
        return try reason.map { try Inputs.text($0, what: "--reason", maxLength: 1000) }
    }

    /// `promote --dry-run`, `rollback --plan`: every gate, pass or fail, changing nothing; exit 3
    /// when one would refuse. `what` names the operation from the release it would move to.
    static func dryRun(
        _ plan: OperationPlan, _ context: CommandContext, reverse: Engine.ReversePlanReport? = nil, what: (String?) -> String
    ) async throws {
        let (release, gates) = try await context.engine.dryRun(plan)
        let passed = gates.allSatisfy(\.passed) && reverse?.irreversible.isEmpty != false
        if context.options.json {
            var document: [(String, JSONValue)] = [
                ("version", .optional(release)), ("would_pass", .bool(passed)), ("gates", .array(gates.map(\.json))),
            ]
            if let reverse { document.append(("reverse_plan", .array(reverse.steps.map(Self.json)))) }
            context.output.document(.object(document))
        } else {
            context.output.line("\(what(release)) — dry run, nothing changed:")
            context.output.table(
                ["GATE", "RESULT", "DETAIL", "EARLIEST PASS"],
                gates.map { gate in
                    [gate.name, gate.passed ? "pass" : "FAIL", gate.detail, gate.earliestPass?.rfc3339 ?? "-"]
                })
            if let reverse { Self.show(reverse, context) }
            context.output.line(passed ? "Every gate passes: it would proceed." : "It would be refused.")
        }
        if !passed { throw ExitCode(ReleaseError.Code.refused.rawValue) }
    }

    /// The reverse plan under `rollback --plan --reverse-migrations`'s gates.
    private static func show(_ reverse: Engine.ReversePlanReport, _ context: CommandContext) {
        guard !reverse.steps.isEmpty else {
            context.output.line("Reverse plan: nothing to reverse.")
            return
        }
        for (step, plan) in reverse.steps {
            context.output.line("Reverse plan of \(step.described):")
            for migration in plan.migrations { context.output.line("  \(migration)") }
            if plan.migrations.isEmpty { context.output.line("  (the plan lists nothing to undo)") }
        }
        if !reverse.irreversible.isEmpty {
            context.output.line("Irreversible, so --reverse-migrations would be refused: " + reverse.irreversible.joined(separator: "; "))
        }
    }

    private static func json(_ entry: (step: MigrationReversal.Step, plan: ReversePlanOutput)) -> JSONValue {
        .object([
            ("app", .string(entry.step.app)), ("target", .string(entry.step.target)),
            ("migrations", .array(entry.plan.migrations.map { .string($0) })),
            ("irreversible", .array(entry.plan.irreversible.map { .string($0) })),
        ])
    }

    static func report(_ report: OperationReport, _ context: CommandContext) async throws {
        if context.options.json {
            context.output.document(
                .object([
                    (
                        "deployment",
                        .object([
                            ("id", .int(report.deploymentID)), ("environment", .string(report.environment)), ("version", .string(report.version)),
                            ("kind", .string(report.kind.rawValue)), ("state", .string("live")), ("since", .optional(report.since?.rfc3339)),
                            ("previous", .optional(report.previousVersion)),
                        ])
                    ),
                    ("gates", .array(report.gates.map(\.json))),
                    ("message", .string(report.message)),
                ]))
        } else {
            context.output.line(report.message)
        }
    }
}

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Keep probing an environment after a deploy; roll back on failure (exit 1).",
        discussion: "Probes the environment's health URL every `interval`; a failed probe is confirmed with a full verification (`successes` "
            + "within `within`), and a confirmed failure quarantines the release and rolls back, as a promotion's own verification does. A "
            + "release put there by a rollback is never rolled back.")

    @Argument(help: "The environment.") var environment: String
    @Option(name: .customLong("for"), parsing: .unconditional, help: "How long to watch.") var duration: String = "15m"
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let span = TimeSpan(parsing: duration), span.microseconds > 0 else {
            throw ReleaseError.usage("--for takes a duration such as 30s, 15m or 2h, not '\(Identifier.shown(duration))'.")
        }
        guard span <= .minutes(7 * 24 * 60) else { throw ReleaseError.usage("--for is at most 7d; run `release watch` again for longer.") }
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        let message = try await context.engine.watch(target, for: span)
        if global.json {
            context.output.document(
                .object([
                    (
                        "watch",
                        .object([
                            ("environment", .string(target.name)), ("healthy", .bool(true)),
                            ("for", .string("\(span)")), ("message", .string(message)),
                        ])
                    )
                ]))
        } else {
            context.output.line(message)
        }
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Measure the signals of what is live now (exit 0 pass, 1 failed and rolled back, 6 inconclusive).",
        discussion: "Measures every signal of the environment's `verify:` block by the same rules as a deployment's verification (every "
            + "`every` until `for`, windows never before the cutover). A failure quarantines the release and rolls back; a pass verifies a "
            + "release held after inconclusive signals.")

    @Argument(help: "The environment.") var environment: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        let message = try await context.engine.reverify(target)
        if global.json {
            context.output.document(.object([("verify", .object([("environment", .string(target.name)), ("message", .string(message))]))]))
        } else {
            context.output.line(message)
        }
    }
}

struct AcceptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accept", abstract: "Mark the release held on an environment (inconclusive signals) verified; audited.")

    @Argument(help: "The environment.") var environment: String
    @Option(parsing: .unconditional, help: "Why it may be trusted (required).") var reason: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let reason else {
            throw ReleaseError.usage("`release accept` needs --reason: say why the release may be trusted without its signals, for the audit.")
        }
        let why = try Inputs.text(reason, what: "--reason", maxLength: 1000)
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        let message = try await context.engine.accept(target, reason: why)
        if global.json {
            context.output.document(.object([("accept", .object([("environment", .string(target.name)), ("message", .string(message))]))]))
        } else {
            context.output.line(message)
        }
    }
}
