import Postgres
import ProviderKit
import ReleaseCore
import ReleaseStore

/// `release rollback --reverse-migrations`: `reverse_plan:` read in the working tree of the release
/// being left before anything is stored (refused, exit 3, when it shows anything irreversible),
/// then `reverse:` app by app once the rollback holds its environment, then the code goes back. A
/// reverse that fails stops before the code is swapped and says what is still applied.
extension Engine {
    /// The key of a deployment's recorded operation that says how far reversing got
    /// (`reversing`, `reversed`); never the provider's.
    static let reversalKey = "migrations_reversal"

    /// A reversal whose plan has been read and passed.
    struct PlannedReversal: Sendable {
        /// What is undone, app by app.
        var reversal: MigrationReversal
        /// Each step's plan, in the same order.
        var plans: [ReversePlanOutput]
        /// The commands, in the working tree of the release being left.
        var reverser: MigrationReverser
        /// The app's id, for the audit trail.
        var appID: Int64
    }

    /// What `rollback --plan --reverse-migrations` shows: each app's reverse plan.
    public struct ReversePlanReport: Sendable {
        /// The steps and what each one's plan printed; empty when nothing is reversed.
        public var steps: [(step: MigrationReversal.Step, plan: ReversePlanOutput)]
        /// Whether the plan shows anything irreversible (the rollback would be refused).
        public var irreversible: [String] { steps.flatMap(\.plan.irreversible) }
    }

    /// Reads the reverse plan of `plan` (a rollback with `--reverse-migrations`) in a temporary
    /// worktree of the release live now and calls `body` with it, the worktree kept until `body`
    /// returns. `body` gets nil when there is nothing to reverse, or when a gate refuses (the
    /// gating transaction then refuses and audits it as always).
    func withReversePlan<Result: Sendable>(
        _ plan: OperationPlan, _ body: (PlannedReversal?) async throws -> Result
    ) async throws -> Result {
        // release.yml's reader refuses `reverse` without `reverse_plan`.
        guard let reverse = configuration.migrations?.reverse, let reversePlan = configuration.migrations?.reversePlan else {
            throw ReleaseError.usage(
                "--reverse-migrations needs reverse: and reverse_plan: under migrations: in release.yml, such as "
                    + "reverse: \"python manage.py migrate {app} {target} --noinput\"; or roll back without it.")
        }
        let engine = self
        let (reversal, commit, appID) = try await database { db in
            try db.rolledBackTransaction { tx -> (MigrationReversal?, String?, Int64) in
                let resolution = try engine.resolve(plan, in: tx)
                guard resolution.refused.isEmpty else { return (nil, nil, resolution.appID) }
                return (resolution.context.schema?.reversal, resolution.previous?.commit, resolution.appID)
            }
        }
        guard let reversal, !reversal.steps.isEmpty, let commit else { return try await body(nil) }
        let repository = try await GitRepository.containing(configuration.file, environment: processEnvironment)
        let progress = self.progress
        return try await repository.withWorktree(at: commit) { tree in
            let reverser = MigrationReverser(
                plan: reversePlan, reverse: reverse, directory: tree, environment: processEnvironment, progress: progress)
            var plans: [ReversePlanOutput] = []
            for step in reversal.steps {
                progress("Reading the reverse plan of \(step.described)…")
                plans.append(try await reverser.plan(step))
            }
            return try await body(PlannedReversal(reversal: reversal, plans: plans, reverser: reverser, appID: appID))
        }
    }

    /// `release rollback ENV --plan --reverse-migrations`: the reverse plan, reading only.
    public func reversePlan(_ plan: OperationPlan) async throws -> ReversePlanReport {
        try await withReversePlan(plan) { planned in
            ReversePlanReport(steps: planned.map { Array(zip($0.reversal.steps, $0.plans)) } ?? [])
        }
    }

    /// A rollback with `--reverse-migrations`: refused (exit 3, audited, nothing else stored) when
    /// the plan shows anything irreversible; otherwise gated and run with the reversal first.
    func runReversing(_ plan: OperationPlan, provider: any DeploymentProvider) async throws -> OperationReport {
        try await withReversePlan(plan) { planned in
            var gated = plan
            gated.plannedReversal = planned?.reversal
            let irreversible = planned?.plans.flatMap(\.irreversible) ?? []
            if let planned, !irreversible.isEmpty {
                let engine = self
                try await transaction { db in
                    try db.appendAudit(
                        app: planned.appID, actor: engine.claimedActor, action: "migrations.reverse_refused", environment: plan.environment.name,
                        version: plan.version,
                        details: .object([
                            ("steps", .array(planned.reversal.steps.map { .string($0.described) })),
                            ("irreversible", .array(irreversible.map { .string(Secrets.redact($0)) })),
                        ]))
                }
                throw ReleaseError.refused(
                    "Rollback of \(plan.environment.name) refused: the reverse plan shows what cannot be undone: "
                        + irreversible.joined(separator: "; ") + ". Nothing was reversed and nothing changed. Roll back without "
                        + "--reverse-migrations (the schema gate says whether the older code runs on the schema as it is), or roll forward.")
            }
            let started = try await begin(gated)
            if let report = started.report { return report }
            guard let deployment = started.deployment else {
                throw ReleaseError.failed("The \(plan.kind.rawValue) did not start.")
            }
            return try await execute(deployment, provider: provider, gates: started.gates, resume: nil, reversal: planned)
        }
    }

    /// Refuses, inside the gating transaction, a rollback whose reverse plan was read for another
    /// move than the one it would now make (something went live meanwhile).
    func requirePlannedReversal(_ plan: OperationPlan, _ resolution: Resolution) throws {
        guard plan.reverseMigrations, resolution.refused.isEmpty else { return }
        let now = resolution.context.schema?.reversal?.steps ?? []
        guard now == (plan.plannedReversal?.steps ?? []) else {
            throw ReleaseError.busy(
                "What is live on \(plan.environment.name) changed while the reverse plan was read; nothing was reversed. Run the rollback again.")
        }
    }

    /// Runs `reverse:` app by app, after the rollback holds its environment and before the code
    /// goes back. The recorded operation says how far it got, so that `release recover` never
    /// swaps the code under a half-reversed schema. A failure fails the rollback (exit 1) saying
    /// what the reverse plan still lists, with the code not swapped.
    func reverseMigrations(_ started: StartedDeployment, _ planned: PlannedReversal) async throws {
        try await recordReversal(started, "reversing")
        for step in planned.reversal.steps {
            progress("Reversing \(step.described)…")
            let reversed = try await planned.reverser.reverse(step)
            guard reversed.succeeded else {
                throw try await reverseFailed(started, planned, at: step, ending: reversed.ending)
            }
        }
        let engine = self
        try await transaction { db in
            try engine.requireLease(started, in: db)
            try db.recordOperation(deployment: started.id, .object([(Self.reversalKey, .string("reversed"))]))
            try db.appendAudit(
                app: started.appID, actor: engine.claimedActor, action: "migrations.reversed", environment: started.environment.name,
                version: started.release.version,
                details: .object([
                    ("deployment", .int(started.id)), ("from", .optional(started.previous?.version)),
                    ("steps", .array(planned.reversal.steps.map(Self.json))),
                    ("plan", .array(planned.plans.flatMap(\.migrations).map { .string($0) })),
                ]))
        }
        progress("Reversed \(planned.reversal.steps.flatMap(\.undoes).count) migration(s); rolling the code back.")
    }

    /// A rollback whose reverse stopped: what is still applied (each step's plan read again), the
    /// audit event, and the rollback failed with the code not swapped.
    private func reverseFailed(
        _ started: StartedDeployment, _ planned: PlannedReversal, at step: MigrationReversal.Step, ending: String
    ) async throws -> ReleaseError {
        var remaining: [String] = []
        var unknown: [String] = []
        for step in planned.reversal.steps {
            if let plan = try? await planned.reverser.plan(step) { remaining += plan.migrations } else { unknown.append(step.app) }
        }
        let applied = remaining
        let undone = planned.plans.flatMap(\.migrations).filter { !applied.contains($0) }
        var schema =
            undone.isEmpty ? "nothing was reversed" : "the schema is partly reversed, undone: \(undone.joined(separator: ", "))"
        schema += applied.isEmpty ? "; nothing is left to reverse" : "; still applied: " + applied.joined(separator: ", ")
        if !unknown.isEmpty { schema += "; unknown for \(unknown.joined(separator: ", ")) (its reverse plan failed too)" }
        let engine = self
        try await transaction { db in
            try engine.requireLease(started, in: db)
            try db.appendAudit(
                app: started.appID, actor: engine.claimedActor, action: "migrations.reverse_failed", environment: started.environment.name,
                version: started.release.version,
                details: .object([
                    ("deployment", .int(started.id)), ("app", .string(step.app)), ("target", .string(step.target)),
                    ("ending", .string(ending)), ("still_applied", .array(applied.map { .string($0) })),
                ]))
        }
        let message = "The reverse of \(step.described) \(ending): \(schema)."
        return try await providerFailed(started, ProviderError(.failed, message, serving: .unchanged(observed: "the code was not swapped")))
    }

    /// A rollback that `release recover` finds died while reversing: never reversed again
    /// automatically, never swapped under a schema nobody knows; failed, saying so.
    func diedReversing(_ started: StartedDeployment) async throws -> ReleaseError {
        try await providerFailed(
            started,
            ProviderError(
                .failed,
                "The run that reversed migrations for this rollback died before it finished; what is applied now is unknown. "
                    + "Read it with your reverse_plan command, then roll back or forward by hand.",
                serving: .unchanged(observed: "the code was not swapped")))
    }

    private func recordReversal(_ started: StartedDeployment, _ stage: String) async throws {
        let engine = self
        try await transaction { db in
            try engine.requireLease(started, in: db)
            try db.recordOperation(deployment: started.id, .object([(Self.reversalKey, .string(stage))]))
        }
    }

    private static func json(_ step: MigrationReversal.Step) -> JSONValue {
        .object([("app", .string(step.app)), ("target", .string(step.target)), ("undoes", .array(step.undoes.map { .string($0.id) }))])
    }
}
