import BuiltInProviders
import ProviderKit
import ReleaseCore
import Testing

/// `MonitoringRegistry.builtIn`: which source a signal gets and which markers `markers:` makes.
@Suite struct SignalRegistryTests {
    static let monitors = MonitorsConfiguration(
        prometheus: .init(url: "http://127.0.0.1:9"), datadog: .init(site: "datadoghq.eu"), sentry: .init(org: "acme", project: "crm-api"),
        cloudwatch: .init(region: "eu-west-1"))

    @Test func everyMonitorHasABuiltInSourceAndAnUnconfiguredOneIsAUsageErrorNamingTheKey() throws {
        let registry = MonitoringRegistry.builtIn
        for monitor in Monitor.allCases {
            _ = try registry.source(for: monitor, monitors: Self.monitors, environment: [:], file: "release.yml")
        }
        let error = #expect(throws: ReleaseError.self) {
            try registry.source(for: .datadog, monitors: MonitorsConfiguration(), environment: [:], file: "release.yml")
        }
        #expect(error?.message.contains("add `monitors.datadog`") == true)
    }

    @Test func aSourcesPreflightNamesTheMissingVariable() throws {
        let datadog = try MonitoringRegistry.builtIn.source(
            for: .datadog, monitors: Self.monitors, environment: ["DD_API_KEY": "k"], file: "release.yml")
        let error = #expect(throws: ReleaseError.self) { try datadog.preflight(for: .datadogMonitor(1_234_567)) }
        #expect(error?.message.hasPrefix("DD_APP_KEY is not set. Export DD_APP_KEY") == true)
        let sentry = try MonitoringRegistry.builtIn.source(for: .sentry, monitors: Self.monitors, environment: [:], file: "release.yml")
        #expect(throws: ReleaseError.self) { try sentry.preflight(for: .sentryNewIssues(level: nil)) }
    }

    @Test func markersAreMadeAsMarkersAsks() throws {
        let registry = MonitoringRegistry.builtIn
        #expect(try registry.markers(MarkersConfiguration(), monitors: Self.monitors, environment: [:]).isEmpty)
        let both = try registry.markers(
            MarkersConfiguration(sentryReleaseName: "crm-api@{{version}}", datadogEvents: true), monitors: Self.monitors, environment: [:])
        #expect(both.map(\.service) == ["Sentry", "Datadog"])
        #expect(both[0].marks(.created) && both[0].marks(.cutover) && both[0].marks(.rollback) && !both[0].marks(.verificationFailed))
        #expect(!both[1].marks(.created) && both[1].marks(.cutover) && both[1].marks(.rollback) && both[1].marks(.verificationFailed))
        #expect(throws: ReleaseError.self, "a Sentry release needs the org and project") {
            try registry.markers(MarkersConfiguration(sentryReleaseName: "{{version}}"), monitors: MonitorsConfiguration(), environment: [:])
        }
    }
}
