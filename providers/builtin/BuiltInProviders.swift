import AWSProvider
import CommandProvider
import DigitalOceanProvider
import HerokuProvider
import ProviderKit
import RailwayProvider
import ReleaseCore

extension ProviderRegistry {
    /// The providers built into `release`, in the order messages list them: the one list of
    /// providers. release.yml's parser takes the provider names it accepts from it.
    public static let builtIn = ProviderRegistry([
        CommandProvider.self, HerokuProvider.self, RailwayProvider.self, DigitalOceanProvider.self, ECSProvider.self,
        LambdaProvider.self,
    ])
}

extension MonitoringRegistry {
    /// The signal sources and deploy markers built into `release`: Prometheus, Datadog and Sentry
    /// over ProviderKit's clients, CloudWatch over the aws provider's signing client.
    public static let builtIn: MonitoringRegistry = {
        var registry = MonitoringRegistry()
        registry.register(.prometheus) { monitors, environment in
            monitors.prometheus.map { PrometheusSource(configuration: $0, environment: environment) }
        }
        registry.register(.datadog) { monitors, environment in
            monitors.datadog.map { DatadogSource(configuration: $0, environment: environment) }
        }
        registry.register(.sentry) { monitors, environment in
            monitors.sentry.map { SentrySource(configuration: $0, environment: environment) }
        }
        registry.register(.cloudwatch) { monitors, environment in
            monitors.cloudwatch.map { CloudWatchSource(configuration: $0, environment: environment) }
        }
        registry.registerMarkers { markers, monitors, environment in
            var made: [any DeployMarker] = []
            if markers.sentryReleaseName != nil {
                guard let sentry = monitors.sentry else {
                    throw ReleaseError.usage("`markers.sentry` needs `monitors.sentry` (org and project) in release.yml.")
                }
                made.append(SentryMarker(configuration: sentry, environment: environment))
            }
            if markers.datadogEvents {
                made.append(DatadogMarker(configuration: monitors.datadog ?? .init(), environment: environment))
            }
            return made
        }
        return registry
    }()
}
