import Foundation
import ProviderKit
import ReleaseCore

/// Measures CloudWatch signals with the AWS credentials and region the aws providers use
/// (`monitors.cloudwatch.region`, else AWS_REGION, …; AWS_ENDPOINT_URL_CLOUDWATCH or
/// AWS_ENDPOINT_URL points it elsewhere), over the JSON 1.0 protocol
/// (`X-Amz-Target: GraniteServiceVersion20100801.<operation>`).
///
/// - `cloudwatch: {alarm}`: `DescribeAlarms` for the name (metric or composite alarm): OK passes,
///   ALARM fails, INSUFFICIENT_DATA is no data; no such alarm is a configuration error.
/// - `cloudwatch: {namespace, metric, dimensions, stat}`: `GetMetricData` from the window's start
///   to its end, one value per 60 s with the stat: the largest value is the answer, none is no data.
public struct CloudWatchSource: SignalSource {
    static let target = "GraniteServiceVersion20100801"
    static let lookupKeys = "`monitors.cloudwatch.region` and the signal's `cloudwatch`"

    /// Credentials and region.
    public let access: AWSAccess

    /// Creates the source from `monitors.cloudwatch` and the process environment.
    public init(configuration: MonitorsConfiguration.CloudWatch, environment: [String: String]) {
        access = AWSAccess(
            .cloudwatch, environment: environment, region: configuration.region, block: "cloudwatch",
            regionKey: "`monitors.cloudwatch.region`")
    }

    public func preflight(for query: SignalQuery) throws {
        try access.preflight()
    }

    public func measure(_ query: SignalQuery, over window: SignalWindow) async throws -> SignalReading {
        let cloudwatch: AWSClient
        do {
            cloudwatch = try access.client(settings: ProviderSettings(), lookupKeys: Self.lookupKeys)
        } catch let error as ReleaseError {
            throw ProviderError(.configuration, error.message)
        }
        switch query {
        case let .cloudwatchAlarm(name):
            let input: JSONValue = .object([
                ("AlarmNames", .array([.string(name)])), ("AlarmTypes", .array([.string("MetricAlarm"), .string("CompositeAlarm")])),
            ])
            let answer = try await cloudwatch.jsonRPC(Self.target, "DescribeAlarms", input, version: "1.0", retryable: true)
            let alarms = (answer["MetricAlarms"]?.arrayValue ?? []) + (answer["CompositeAlarms"]?.arrayValue ?? [])
            guard let alarm = alarms.first(where: { $0["AlarmName"]?.stringValue == name }) else {
                throw ProviderError(
                    .configuration, "CloudWatch has no alarm named \(name) in \(cloudwatch.region). Check \(Self.lookupKeys) in release.yml.")
            }
            let reading: SignalReading.Answer =
                switch alarm["StateValue"]?.stringValue {
                case "OK": .state(.pass, "OK")
                case "ALARM": .state(.fail, "ALARM")
                case "INSUFFICIENT_DATA": .noData
                default: throw cloudwatch.api.malformed("DescribeAlarms")
                }
            return SignalReading(reading, query: "alarm \(name)")
        case let .cloudwatchMetric(metric):
            let dimensions = JSONValue.array(metric.dimensions.map { .object([("Name", .string($0.0)), ("Value", .string($0.1))]) })
            let named: JSONValue = .object([
                ("Namespace", .string(metric.namespace)), ("MetricName", .string(metric.metric)), ("Dimensions", dimensions),
            ])
            let stat: JSONValue = .object([("Metric", named), ("Period", .int(60)), ("Stat", .string(metric.stat))])
            let input: JSONValue = .object([
                ("MetricDataQueries", .array([.object([("Id", .string("m1")), ("MetricStat", stat), ("ReturnData", .bool(true))])])),
                ("StartTime", .double(Double(window.start.microseconds) / 1_000_000)),
                ("EndTime", .double(Double(window.end.microseconds) / 1_000_000)),
            ])
            let answer = try await cloudwatch.jsonRPC(Self.target, "GetMetricData", input, version: "1.0", retryable: true)
            guard let results = answer["MetricDataResults"]?.arrayValue else { throw cloudwatch.api.malformed("GetMetricData") }
            let values = results.flatMap { $0["Values"]?.arrayValue ?? [] }.compactMap(\.doubleValue)
            return SignalReading(values.max().map(SignalReading.Answer.number) ?? .noData, query: Self.describe(metric))
        default:
            throw ProviderError(.configuration, "CloudWatch cannot measure a \(query.monitor.rawValue) signal.")
        }
    }

    /// `AWS/ApplicationELB HTTPCode_Target_5XX_Count{LoadBalancer=app/crm/1} Sum per 60s`.
    static func describe(_ metric: CloudWatchMetric) -> String {
        let dimensions = metric.dimensions.isEmpty ? "" : "{" + metric.dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
        return "\(metric.namespace) \(metric.metric)\(dimensions) \(metric.stat) per 60s"
    }
}
