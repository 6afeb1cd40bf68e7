import ArgumentParser
import ReleaseCore

struct FreezeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze",
        abstract: "Stop deploys and promotions into an environment "
            + "(rollbacks are never frozen).")

    @Argument(help: "The environment.") var environment: String
    @Option(parsing: .unconditional, help: "Why (required).") var reason: String?
    @Option(parsing: .unconditional, help: "When the freeze ends by itself (RFC 3339).") var until: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        guard let reason else { throw ReleaseError.usage("`release freeze` needs --reason: say why, so the team knows when to lift it.") }
        let why = try Inputs.text(reason, what: "--reason", maxLength: 1000)
        let end = try until.map { try Inputs.time($0, option: "--until") }
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        try await context.engine.freeze(environment: target, reason: why, until: end)
        if global.json {
            context.output.document(
                .object([
                    (
                        "freeze",
                        .object([
                            ("environment", .string(target.name)), ("reason", .string(why)),
                            ("until", .optional(end?.rfc3339)),
                        ])
                    )
                ]))
        } else {
            context.output.line(
                "\(target.name) is frozen\(end.map { " until \($0)" } ?? ""): \(why). Run `release unfreeze \(target.name)` to "
                    + "lift it.")
        }
    }
}

struct UnfreezeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unfreeze", abstract: "Allow deploys and promotions into an environment again.")

    @Argument(help: "The environment.") var environment: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let context = try await CommandContext.make(global)
        let target = try context.configuration.environment(named: environment)
        let lifted = try await context.engine.unfreeze(environment: target)
        if global.json {
            context.output.document(.object([("unfrozen", .object([("environment", .string(target.name)), ("lifted", .int(Int64(lifted)))]))]))
        } else if lifted == 0 {
            context.output.line("\(target.name) had no freeze started with `release freeze`; nothing changed.")
        } else {
            context.output.line("Lifted \(lifted) freeze\(lifted == 1 ? "" : "s") on \(target.name).")
        }
        if !target.gates.freezes.isEmpty, !global.json {
            context.output.line("Note: release.yml still defines freeze windows for \(target.name); those stay in force.")
        }
    }
}
