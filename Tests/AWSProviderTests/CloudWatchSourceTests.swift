import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

@testable import AWSProvider

/// The CloudWatch source against moto_server with signature checks on, reached through
/// AWS_ENDPOINT_URL_CLOUDWATCH with the region from `monitors.cloudwatch`.
@Suite struct CloudWatchSourceTests {
    static func source(_ world: MotoWorld, keys: String = "") -> CloudWatchSource {
        var environment = world.environment
        environment["AWS_ENDPOINT_URL"] = nil
        environment["AWS_REGION"] = nil
        environment["AWS_ENDPOINT_URL_CLOUDWATCH"] = world.endpoint
        if !keys.isEmpty {
            environment["AWS_ACCESS_KEY_ID"] = world.description["\(keys)_access_key_id"]?.stringValue
            environment["AWS_SECRET_ACCESS_KEY"] = world.description["\(keys)_secret_access_key"]?.stringValue
        }
        return CloudWatchSource(configuration: .init(region: world.region), environment: environment)
    }

    /// The last five minutes.
    static var window: SignalWindow {
        let now = Timestamp.now
        return SignalWindow(start: now.adding(.seconds(-300)), end: now)
    }

    @Test func anAlarmOKPassesALARMFailsAndINSUFFICIENTDATAIsNoData() async throws {
        try await MotoWorld.with { world in
            let source = Self.source(world)
            let alarm = SignalQuery.cloudwatchAlarm(world.alarm)
            let ok = try await source.measure(alarm, over: Self.window)
            #expect(ok.answer == .state(.pass, "OK"))
            #expect(ok.query == "alarm crm-api-alb-5xx")
            try await world.control(.object([("alarm_states", .object([(world.alarm, .string("ALARM"))]))]))
            #expect(try await source.measure(alarm, over: Self.window).answer == .state(.fail, "ALARM"))
            try await world.control(.object([("alarm_states", .object([(world.alarm, .string("INSUFFICIENT_DATA"))]))]))
            #expect(try await source.measure(alarm, over: Self.window).answer == .noData)

            let missing = await #expect(throws: ProviderError.self) {
                try await source.measure(.cloudwatchAlarm("crm-api-typo"), over: Self.window)
            }
            #expect(missing?.kind == .configuration)
            #expect(missing?.message.contains("CloudWatch has no alarm named crm-api-typo in us-east-1") == true)
        }
    }

    @Test func aMetricIsTheLargestValueInTheWindowAndNoPointsIsNoData() async throws {
        try await MotoWorld.with { world in
            let metric = CloudWatchMetric(
                namespace: "AWS/ApplicationELB", metric: "HTTPCode_Target_5XX_Count", dimensions: [("LoadBalancer", "app/crm/1")], stat: "Sum")
            let source = Self.source(world)
            #expect(try await source.measure(.cloudwatchMetric(metric), over: Self.window).answer == .noData)
            try await world.control(
                .object([
                    (
                        "metric_points",
                        .object([
                            ("namespace", .string(metric.namespace)), ("metric", .string(metric.metric)),
                            ("dimensions", .object([("LoadBalancer", .string("app/crm/1"))])),
                            // The third is before the window: it is not counted.
                            ("points", .array([.array([.int(30), .int(3)]), .array([.int(90), .int(7)]), .array([.int(900), .int(50)])])),
                        ])
                    )
                ]))
            let reading = try await source.measure(.cloudwatchMetric(metric), over: Self.window)
            #expect(reading.answer == .number(7))
            #expect(reading.query == "AWS/ApplicationELB HTTPCode_Target_5XX_Count{LoadBalancer=app/crm/1} Sum per 60s")
            var other = metric
            other.dimensions = [("LoadBalancer", "app/other/2")]
            #expect(try await source.measure(.cloudwatchMetric(other), over: Self.window).answer == .noData)
        }
    }

    @Test func aUserWithoutCloudWatchReadsIsAConfigurationErrorNamingTheAction() async throws {
        try await MotoWorld.with { world in
            let error = await #expect(throws: ProviderError.self) {
                try await Self.source(world, keys: "readonly").measure(.cloudwatchAlarm(world.alarm), over: Self.window)
            }
            #expect(error?.kind == .configuration)
            #expect(error?.message.contains("Allow cloudwatch:DescribeAlarms in the IAM policy") == true)
        }
    }

    @Test func missingCredentialsOrRegionAreUsageErrorsBeforeAnything() throws {
        let none = CloudWatchSource(configuration: .init(), environment: ["HOME": "/nonexistent"])
        let error = #expect(throws: ReleaseError.self) { try none.preflight(for: .cloudwatchAlarm("a")) }
        #expect(error?.message.contains("No AWS credentials") == true)
        let noRegion = CloudWatchSource(
            configuration: .init(), environment: ["HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"])
        let region = #expect(throws: ReleaseError.self) { try noRegion.preflight(for: .cloudwatchAlarm("a")) }
        #expect(region?.message == "No AWS region: set `monitors.cloudwatch.region` in release.yml, or AWS_REGION.")
    }
}
