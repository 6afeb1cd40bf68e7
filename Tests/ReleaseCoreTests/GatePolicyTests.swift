import ReleaseCore
import Testing

private func gatesConfig(_ gateLines: String) -> String {
    """
    app: crm-api
    environments:
      main:
        provider: command
        command: {deploy: ./deploy.sh}
        gates:
    \(gateLines)
    """
}

@Suite("GatePolicy")
struct GatePolicyTests {
    @Test("the default policy lets everything through")
    func defaultPolicy() {
        let policy = GatePolicy()
        #expect(policy.checks.isEmpty)
        #expect(policy.soak == nil)
        #expect(policy.approvals == 0)
        #expect(policy.allowed == nil)
        #expect(policy.freezes.isEmpty)
        #expect(policy.allows("anyone"))
    }

    @Test("allows: no list means anyone, a list means exactly its members")
    func allows() {
        let policy = GatePolicy(allowed: ["alice", "bob"])
        #expect(policy.allows("alice"))
        #expect(policy.allows("bob"))
        #expect(!policy.allows("carol"))
        #expect(!policy.allows(""))
        #expect(!GatePolicy(allowed: []).allows("alice"), "an empty list allows nobody")
    }

    @Test("gates parse from release.yml")
    func parses() throws {
        let config = try configuration(
            gatesConfig(
                """
                      checks: [tests, lint, ci/build, security@v2]
                      soak: 1h30m
                      approvals: 2
                      allowed: [alice, bob]
                """))
        let gates = try #require(config.environments.first).gates
        #expect(gates.checks == ["tests", "lint", "ci/build", "security@v2"])
        #expect(gates.soak == .minutes(90))
        #expect(gates.approvals == 2)
        #expect(gates.allowed == ["alice", "bob"])
        #expect(gates.freezes.isEmpty)
    }

    @Test("a single check or allowed name may be written without a list")
    func singleValues() throws {
        let config = try configuration(
            gatesConfig(
                """
                      checks: tests
                      allowed: alice
                """))
        let gates = try #require(config.environments.first).gates
        #expect(gates.checks == ["tests"])
        #expect(gates.allowed == ["alice"])
    }

    @Test("an environment without gates gets the permissive policy")
    func noGates() throws {
        let config = try configuration(
            """
            app: crm-api
            environments:
              develop: {provider: command, command: {deploy: ./deploy.sh}}
            """)
        let gates = try #require(config.environments.first).gates
        #expect(gates.checks.isEmpty && gates.soak == nil && gates.approvals == 0 && gates.allowed == nil)
    }

    @Test(
        "gate errors name the line and the key",
        arguments: [
            ("      soak: soon", "release.yml:7: environments.main.gates.soak: expected a duration such as 500ms, 30s, 5m, 2h or 1d, found 'soon'."),
            ("      soak: 0s", "release.yml:7: environments.main.gates.soak: expected a duration greater than zero."),
            ("      approvals: 21", "release.yml:7: environments.main.gates.approvals: expected a whole number from 0 to 20, found 21."),
            ("      approvals: -1", "release.yml:7: environments.main.gates.approvals: expected a whole number from 0 to 20, found -1."),
            ("      approvals: one", "release.yml:7: environments.main.gates.approvals: expected a whole number from 0 to 20."),
            ("      checks: [tests, \"bad name\"]", "release.yml:7: environments.main.gates.checks: check names are letters"),
            ("      checks: {tests: yes}", "release.yml:7: environments.main.gates.checks: expected a list."),
            ("      freeze: holidays", "release.yml:7: environments.main.gates.freeze: expected a list."),
            (
                "      soakk: 30m",
                "release.yml:7: environments.main.gates.soakk: unknown key 'soakk'; expected one of checks, soak, approvals, allowed, freeze."
            ),
        ])
    func errors(line: String, expected: String) {
        let message = configError(gatesConfig(line))
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("gates that are not a mapping are an error")
    func gatesNotMapping() {
        let message = configError(gatesConfig("      - tests"))
        #expect(message.hasPrefix("release.yml:7: environments.main.gates: expected a mapping"), "\(message)")
    }
}
