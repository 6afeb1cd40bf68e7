import AWSProvider
import Foundation
import ReleaseCore

/// release.yml environments and requests for the AWS provider tests.
enum Fixtures {
    static func ecs(_ settings: String = "cluster: crm, service: crm-api, container: web") throws -> ECSProvider.Configuration {
        try ECSProvider.Configuration(reader: environment("aws-ecs", settings).providerSettings)
    }

    static func lambda(_ settings: String = "function: crm-api, alias: live") throws -> LambdaProvider.Configuration {
        try LambdaProvider.Configuration(reader: environment("aws-lambda", settings).providerSettings)
    }

    static func environment(_ provider: String, _ settings: String) throws -> EnvironmentConfiguration {
        try ReleaseConfiguration.parse(
            yaml: """
                app: crm-api
                environments:
                  main:
                    provider: \(provider)
                    \(provider): {\(settings)}
                """, file: "release.yml", providers: [ECSProvider.providerName, LambdaProvider.providerName]
        ).environments[0]
    }

    static func request(
        _ provider: String = "aws-ecs", _ version: String, artifact: String?, kind: DeploymentKind = .deploy,
        target: JSONValue? = nil
    ) throws -> DeploymentRequest {
        DeploymentRequest(
            app: "crm-api",
            environment: try environment(
                provider, provider == "aws-ecs" ? "cluster: crm, service: crm-api, container: web" : "function: crm-api, alias: live"),
            deploymentID: 1, kind: kind,
            release: ReleaseRecord(
                id: 1, version: version, commit: "abc1234", artifact: artifact, notes: nil,
                createdAt: Timestamp(seconds: 0), createdBy: "alice"),
            targetReference: target)
    }
}
