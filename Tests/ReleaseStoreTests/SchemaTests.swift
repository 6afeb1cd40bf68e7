import Postgres
import ReleaseCore
import ReleaseStore
import Testing

@Suite struct SchemaTests {
    @Test func theDatabaseTransitionTableIsTheStateMachine() async throws {
        try await StoreFixture.with { fixture in
            let rows = try fixture.connection.query("SELECT from_state, to_state FROM deployment_transitions")
            var database: Set<String> = []
            for row in rows { database.insert("\(try row.string("from_state"))->\(try row.string("to_state"))") }
            var swift: Set<String> = []
            for state in DeploymentState.allCases {
                for next in state.successors { swift.insert("\(state.rawValue)->\(next.rawValue)") }
            }
            #expect(database == swift)
        }
    }

    /// The partial indexes over in-flight deployments (one per environment, leases) name exactly
    /// the states `DeploymentState.inFlight` names, which every query of the store uses.
    @Test func theInFlightIndexesNameTheInFlightStates() async throws {
        try await StoreFixture.with { fixture in
            for index in ["deployments_one_in_flight", "deployments_in_flight_leases"] {
                let definition = try #require(
                    try fixture.connection.query(
                        "SELECT pg_get_indexdef(\(index)::regclass) AS definition"
                    ).first?.string("definition"))
                let named = Set(DeploymentState.allCases.filter { definition.contains("'\($0.rawValue)'") })
                #expect(named == DeploymentState.inFlight, "\(index): \(definition)")
            }
        }
    }

    /// So do the write functions that tell in flight from finished (starting a deployment, moving
    /// it, its lease).
    @Test func theWriteFunctionsNameTheInFlightStates() async throws {
        try await StoreFixture.with { fixture in
            let functions = try fixture.connection.query(
                "SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'release\\_%' AND prosrc LIKE '%state IN (%'")
            #expect(functions.count >= 4, "insert, transition, heartbeat, take over")
            for function in functions {
                let (name, source) = (try function.string("proname"), try function.string("prosrc"))
                for list in source.split(separator: "state IN (").dropFirst() {
                    let literal = list.prefix { $0 != ")" }
                    let named = Set(DeploymentState.allCases.filter { literal.contains("'\($0.rawValue)'") })
                    #expect(named == DeploymentState.inFlight, "\(name): \(literal)")
                }
            }
        }
    }

    @Test(arguments: DeploymentState.allCases)
    func theDatabaseRefusesEveryTransitionTheTableDoesNotAllowFromPending(_ target: DeploymentState) async throws {
        try await StoreFixture.with { fixture in
            let (app, environment, release) = (fixture.app, fixture.main, fixture.first.id)
            let id = try await fixture.connection.run { db in
                try db.insertDeployment(
                    app: app, environment: environment, environmentName: "main", release: release,
                    kind: .deploy, by: "alice", reason: nil)
            }
            let attempt: () async throws -> Void = {
                try await fixture.connection.run { db in try db.transition(deployment: id, to: target) }
            }
            if DeploymentState.pending.canMove(to: target) || target == .pending {
                try await attempt()
            } else {
                await #expect(throws: PostgresError.self) { try await attempt() }
            }
        }
    }

    @Test func aDeploymentStartsInPending() async throws {
        try await StoreFixture.with { fixture in
            let (app, environment, release) = (fixture.app, fixture.main, fixture.first.id)
            #expect(throws: PostgresError.self) {
                try fixture.connection.query(
                    """
                    INSERT INTO deployments (app_id, environment_id, release_id, kind, state, actor)
                    VALUES (\(app), \(environment), \(release), 'deploy', 'live', 'mallory')
                    """)
            }
        }
    }

    @Test func onlyOneDeploymentIsInFlightPerEnvironment() async throws {
        try await StoreFixture.with { fixture in
            let (app, main, develop, release) = (fixture.app, fixture.main, fixture.develop, fixture.first.id)
            let first = try await fixture.connection.run { db in
                try db.insertDeployment(
                    app: app, environment: main, environmentName: "main", release: release, kind: .deploy, by: "alice", reason: nil)
            }
            await #expect {
                try await fixture.connection.run { db in
                    _ = try db.insertDeployment(
                        app: app, environment: main, environmentName: "main", release: release, kind: .deploy, by: "bob", reason: nil)
                }
            } throws: { error in
                (error as? ReleaseError)?.code == .busy && "\(error)".contains("deployment \(first)")
            }
            // Another environment is independent.
            _ = try await fixture.connection.run { db in
                try db.insertDeployment(
                    app: app, environment: develop, environmentName: "develop", release: release, kind: .deploy, by: "bob", reason: nil)
            }
            // Once the first one is no longer in flight, the slot is free again.
            try await fixture.connection.run { db in
                try db.transition(deployment: first, to: .gating)
                try db.transition(deployment: first, to: .rejected)
                _ = try db.insertDeployment(
                    app: app, environment: main, environmentName: "main", release: release, kind: .deploy, by: "bob", reason: nil)
            }
        }
    }

    @Test func occupancyRangesNeverOverlapInOneEnvironment() async throws {
        try await StoreFixture.with { fixture in
            let (id, since) = try await fixture.cutover(fixture.first, in: fixture.main)
            let (environment, release) = (fixture.main, fixture.second.id)
            #expect(throws: PostgresError.self) {
                try fixture.connection.query(
                    """
                    INSERT INTO occupancy (environment_id, release_id, deployment_id, during)
                    VALUES (\(environment), \(release), \(id),
                            tstzrange(\(since.adding(.seconds(-10)))::timestamptz, \(since.adding(.seconds(1)))::timestamptz))
                    """)
            }
        }
    }

    @Test func liveAtIsExactToTheMicrosecondAtRangeBoundaries() async throws {
        try await StoreFixture.with { fixture in
            let (firstID, firstSince) = try await fixture.cutover(fixture.first, in: fixture.main)
            try await fixture.connection.run { db in try db.markVerified(deployment: firstID, detail: "ok") }
            let (_, secondSince) = try await fixture.cutover(fixture.second, in: fixture.main)
            let app = fixture.app
            func live(_ instant: Timestamp) async throws -> String? {
                try await fixture.connection.run { db in try db.liveAt(app: .id(app), at: instant)["main"]?.version }
            }
            #expect(try await live(firstSince.adding(TimeSpan(microseconds: -1))) == nil)
            #expect(try await live(firstSince) == "1.0.0")
            #expect(try await live(secondSince.adding(TimeSpan(microseconds: -1))) == "1.0.0")
            #expect(try await live(secondSince) == "1.0.1")
            #expect(try await live(secondSince.adding(.seconds(3600))) == "1.0.1")
            let previous = try await fixture.connection.run { db in try db.deployment(id: firstID)?.state }
            #expect(previous == .superseded)
        }
    }
}
