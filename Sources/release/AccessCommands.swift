import ArgumentParser
import ReleaseCore
import ReleaseStore

struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whoami",
        abstract: "Who the database says you are: your login (what the connection authenticated as), the person it maps to, "
            + "and whether identity is enforced.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let context = try await CommandContext.make(global, identify: true)
        let identity = try context.requireIdentity()
        if global.json {
            context.output.document(
                .object([
                    ("login", .string(identity.login)), ("person", .string(identity.person)), ("kind", .string(identity.kind)),
                    ("admin", .bool(identity.admin)), ("enforced", .bool(identity.enforced)),
                ]))
            return
        }
        let person = identity.person == identity.login ? "" : " (\(identity.person))"
        let roles = [identity.kind, identity.admin ? "admin" : nil].compactMap { $0 }.joined(separator: ", ")
        context.output.line("\(identity.login)\(person): \(roles).")
        context.output.line(AccessCommand.StatusCommand.sentence(enforced: identity.enforced))
    }
}

struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Which database login is which person, and whether the database enforces it.",
        subcommands: [StatusCommand.self, EnforceCommand.self, GrantCommand.self, RevokeCommand.self, ListCommand.self])

    struct EnforceCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enforce",
            abstract: "Switch enforced identity on for this database, once (admin only): the database records who logged in, "
                + "and checks allowed, approvals and quarantine itself.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let context = try await CommandContext.make(global)
            let (switched, identity) = try await context.engine.enforceAccess(declared: context.declared)
            if global.json {
                context.output.document(.object([("enforced", .bool(true)), ("changed", .bool(switched))]))
            } else if switched {
                context.output.line(
                    "Identity is enforced from now on: release_operator changes nothing but through release's functions, "
                        + "your login \(identity.login) is \(identity.person), and release.yml's gates are the stored policy. "
                        + "Map the other logins with `release access grant`.")
            } else {
                context.output.line("Identity was enforced already; nothing changed.")
            }
        }
    }

    struct StatusCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Whether identity is enforced by the database.")

        @OptionGroup var global: GlobalOptions

        /// One line for either state.
        static func sentence(enforced: Bool) -> String {
            enforced
                ? "Identity is enforced: the database records who logged in, and checks allowed, approvals and quarantine itself."
                : "Identity is claimed, not checked: the actor is whatever --actor, RELEASE_ACTOR or GITHUB_ACTOR says."
        }

        func run() async throws {
            let context = try await CommandContext.make(global, identify: true)
            let identity = try context.requireIdentity()
            if global.json {
                context.output.document(.object([("enforced", .bool(identity.enforced))]))
            } else {
                context.output.line(Self.sentence(enforced: identity.enforced))
            }
        }
    }

    struct GrantCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant",
            abstract: "Say which person a database login is (admin only). The login itself is created by the database "
                + "administrator: CREATE ROLE … LOGIN, then GRANT release_operator or release_auditor.")

        @Argument(help: "The PostgreSQL login.") var login: String
        @Option(name: .customLong("as"), parsing: .unconditional, help: "The person it is (required).") var person: String?
        @Flag(help: "A CI or other automation login: never counts as an approver.") var automation = false
        @Flag(help: "An automation login that may name the person it acts for (--actor, RELEASE_ACTOR, GITHUB_ACTOR).")
        var onBehalf = false
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let login = try Inputs.actorName(login, what: "login")
            guard let person else {
                throw ReleaseError.usage("`release access grant \(login)` needs --as PERSON: the person this login is.")
            }
            let name = try Inputs.actorName(person, what: "person")
            if onBehalf && !automation {
                throw ReleaseError.usage("Only an automation login may act on behalf of others: add --automation, or drop --on-behalf.")
            }
            let context = try await CommandContext.make(global)
            try await context.engine.grantAccess(login: login, person: name, automation: automation, onBehalf: onBehalf)
            let kind = automation ? (onBehalf ? "automation that may act on behalf of others" : "automation") : "a person"
            if global.json {
                context.output.document(
                    .object([
                        (
                            "granted",
                            .object([
                                ("login", .string(login)), ("person", .string(name)), ("automation", .bool(automation)),
                                ("on_behalf", .bool(onBehalf)),
                            ])
                        )
                    ]))
            } else {
                context.output.line("Login \(login) is \(name) (\(kind)).")
            }
        }
    }

    struct RevokeCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Forget which person a login is (admin only); the login is then its own name.")

        @Argument(help: "The PostgreSQL login.") var login: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let login = try Inputs.actorName(login, what: "login")
            let context = try await CommandContext.make(global)
            let revoked = try await context.engine.revokeAccess(login: login)
            if global.json {
                context.output.document(.object([("revoked", .object([("login", .string(login)), ("was_mapped", .bool(revoked))]))]))
            } else {
                context.output.line(revoked ? "Login \(login) no longer maps to a person." : "Login \(login) had no mapping; nothing changed.")
            }
        }
    }

    struct ListCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Every login mapped to a person.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let context = try await CommandContext.make(global)
            let mappings = try await context.engine.loginMappings()
            if global.json {
                let logins = mappings.map { mapping in
                    JSONValue.object([
                        ("login", .string(mapping.login)), ("person", .string(mapping.person)),
                        ("kind", .string(mapping.automation ? "automation" : "human")), ("on_behalf", .bool(mapping.onBehalf)),
                        ("granted_by", .string(mapping.grantedBy)), ("granted_at", .string(mapping.grantedAt.rfc3339)),
                    ])
                }
                context.output.document(.object([("logins", .array(logins))]))
                return
            }
            if mappings.isEmpty {
                context.output.line("No login is mapped to a person yet: each login is the person of its own name.")
                return
            }
            context.output.table(
                ["LOGIN", "PERSON", "KIND", "ON BEHALF", "GRANTED BY", "AT"],
                mappings.map {
                    [
                        $0.login, $0.person, $0.automation ? "automation" : "human", $0.onBehalf ? "yes" : "no", $0.grantedBy,
                        $0.grantedAt.rfc3339,
                    ]
                })
        }
    }
}

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "The gates stored in the database, which count once identity is enforced.",
        subcommands: [ApplyCommand.self, ShowCommand.self])

    struct ApplyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply", abstract: "Store the gates of every environment in release.yml in the database (admin only).")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let context = try await CommandContext.make(global)
            let changed = try await context.engine.applyPolicy(declared: context.declared)
            if global.json {
                context.output.document(.object([("changed", .array(changed.map(JSONValue.string)))]))
            } else if changed.isEmpty {
                context.output.line("The stored policy already matches release.yml; nothing changed.")
            } else {
                context.output.line("Stored the gates of \(changed.joined(separator: ", ")) from release.yml.")
            }
        }
    }

    struct ShowCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "The stored gates of each environment, and where release.yml differs from them.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let context = try await CommandContext.make(global)
            let policies = try await context.engine.storedPolicy(declared: context.declared)
            if global.json {
                let environments = policies.map { entry in
                    JSONValue.object([
                        ("name", .string(entry.environment)), ("gates", entry.stored?.gates ?? .null),
                        ("promote_from", .optional(entry.stored?.promoteFrom)),
                        ("applied_by", .optional(entry.stored?.appliedBy)), ("applied_at", .optional(entry.stored?.appliedAt.rfc3339)),
                        ("release_yml_differs", .array(entry.differences.map(JSONValue.string))),
                    ])
                }
                context.output.document(.object([("environments", .array(environments))]))
                return
            }
            context.output.table(
                ["ENVIRONMENT", "STORED GATES", "PROMOTE FROM", "APPLIED", "RELEASE.YML DIFFERS IN"],
                policies.map { entry in
                    [
                        entry.environment, entry.stored?.gates.text ?? "none", entry.stored?.promoteFrom ?? "-",
                        entry.stored.map { "\($0.appliedAt.rfc3339) by \($0.appliedBy)" } ?? "-",
                        entry.differences.isEmpty ? "-" : entry.differences.joined(separator: ", "),
                    ]
                })
        }
    }
}
