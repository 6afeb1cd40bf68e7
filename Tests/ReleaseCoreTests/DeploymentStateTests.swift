import ReleaseCore
import Testing

/// The transition table of docs/architecture.md, written out independently of the source.
private let documentedTable: [DeploymentState: Set<DeploymentState>] = [
    .pending: [.gating, .cancelled],
    .gating: [.deploying, .rejected, .cancelled],
    .deploying: [.verifying, .failed],
    .verifying: [.live, .failed],
    .live: [.superseded],
    .failed: [.rolledBack],
    .superseded: [],
    .rejected: [],
    .cancelled: [],
    .rolledBack: [],
]

@Suite("DeploymentState")
struct DeploymentStateTests {
    @Test(
        "canMove(to:) matches the documented table for every pair",
        arguments: DeploymentState.allCases, DeploymentState.allCases)
    func transitionTable(from: DeploymentState, to: DeploymentState) throws {
        let allowed = try #require(documentedTable[from], "\(from) is missing from the documented table")
        #expect(
            from.canMove(to: to) == allowed.contains(to),
            "\(from.rawValue) → \(to.rawValue) should be \(allowed.contains(to) ? "allowed" : "refused")")
    }

    @Test("successors are exactly the documented ones", arguments: DeploymentState.allCases)
    func successorsMatchTable(state: DeploymentState) {
        #expect(state.successors == documentedTable[state])
    }

    @Test("there are exactly the ten documented states, with the database's spellings")
    func rawValues() {
        #expect(
            DeploymentState.allCases.map(\.rawValue) == [
                "pending", "gating", "deploying", "verifying", "live", "superseded", "rejected", "cancelled", "failed",
                "rolled_back",
            ])
        #expect(DeploymentState(rawValue: "rolled_back") == .rolledBack)
        #expect(DeploymentState(rawValue: "rolledBack") == nil)
    }

    @Test("terminal states are superseded, rejected, cancelled and rolled_back, and have no successors")
    func terminalStates() {
        let terminal = Set(DeploymentState.allCases.filter { $0.successors.isEmpty })
        #expect(terminal == [.superseded, .rejected, .cancelled, .rolledBack])
        for state in terminal {
            for next in DeploymentState.allCases {
                #expect(!state.canMove(to: next), "terminal \(state) must not move to \(next)")
            }
        }
    }

    @Test("in flight is exactly pending, gating, deploying and verifying")
    func inFlight() {
        #expect(DeploymentState.inFlight == [.pending, .gating, .deploying, .verifying])
        for state in DeploymentState.allCases {
            #expect(state.isInFlight == [.pending, .gating, .deploying, .verifying].contains(state), "\(state)")
        }
        // A deployment that has left the in-flight slot never re-enters it.
        for state in DeploymentState.allCases where !state.isInFlight {
            #expect(state.successors.allSatisfy { !$0.isInFlight }, "\(state) leads back into flight")
        }
    }

    @Test("every deployment starts pending, and every state is reachable from pending")
    func reachability() {
        #expect(DeploymentState.initial == .pending)
        var reached: Set<DeploymentState> = [.initial]
        var frontier: [DeploymentState] = [.initial]
        while let state = frontier.popLast() {
            for next in state.successors where reached.insert(next).inserted {
                frontier.append(next)
            }
        }
        #expect(reached == Set(DeploymentState.allCases))
    }

    @Test("no state moves to itself and the machine has no cycles")
    func acyclic() {
        func reachable(from state: DeploymentState) -> Set<DeploymentState> {
            var seen: Set<DeploymentState> = []
            var frontier = Array(state.successors)
            while let next = frontier.popLast() {
                if seen.insert(next).inserted { frontier.append(contentsOf: next.successors) }
            }
            return seen
        }
        for state in DeploymentState.allCases {
            #expect(!state.canMove(to: state), "\(state) → itself")
            #expect(!reachable(from: state).contains(state), "\(state) can come back to itself")
        }
        #expect(DeploymentState.allCases.allSatisfy { !$0.canMove(to: .pending) })
    }

    @Test("a deployment whose gates pass goes the whole happy path to superseded")
    func happyPath() {
        let path: [DeploymentState] = [.pending, .gating, .deploying, .verifying, .live, .superseded]
        for (from, to) in zip(path, path.dropFirst()) {
            #expect(from.canMove(to: to), "\(from) → \(to)")
        }
        // Skipping a step is refused: nothing goes live without verification.
        #expect(!DeploymentState.deploying.canMove(to: .live))
        #expect(!DeploymentState.pending.canMove(to: .deploying))
        #expect(!DeploymentState.gating.canMove(to: .failed))
    }

    @Test("deployment kinds keep the contract's names")
    func kinds() {
        #expect(DeploymentKind.allCases.map(\.rawValue) == ["deploy", "promote", "rollback"])
    }
}
