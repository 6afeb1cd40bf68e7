import Foundation
import ProviderKit
import ReleaseCore
import Testing

@testable import AWSProvider

/// The decisions the ECS provider makes from DescribeServices and DescribeTaskDefinition answers
/// (shapes from the ECS API model, botocore data/ecs/2014-11-13), and how AWS errors read.
@Suite struct ECSLogicTests {
    static let ours = "arn:aws:ecs:us-east-1:123456789012:task-definition/crm-api:2"
    static let old = "arn:aws:ecs:us-east-1:123456789012:task-definition/crm-api:1"

    static func service(_ taskDefinition: String = ours, deployments: String) -> JSONValue {
        JSONValue(
            parsing: #"{"serviceName":"crm-api","status":"ACTIVE","desiredCount":2,"runningCount":2,"#
                + #""taskDefinition":"\#(taskDefinition)","deployments":\#(deployments)}"#)!
    }

    @Test func stableNeedsOnePrimaryDeploymentCompletedWithAllTasksRunning() {
        let stable = Self.service(
            deployments: #"[{"id":"ecs-svc/1","status":"PRIMARY","taskDefinition":"\#(Self.ours)","#
                + #""desiredCount":2,"runningCount":2,"rolloutState":"COMPLETED"}]"#)
        #expect(ECSProvider.rollout(of: stable, expecting: Self.ours) == .stable)

        let draining = Self.service(
            deployments: #"[{"status":"PRIMARY","desiredCount":2,"runningCount":2,"rolloutState":"COMPLETED"},"#
                + #"{"status":"ACTIVE","desiredCount":0,"runningCount":1,"rolloutState":"COMPLETED"}]"#)
        #expect(ECSProvider.rollout(of: draining, expecting: Self.ours) == .inProgress("2 deployments, rollout COMPLETED, 2 of 2 tasks running"))

        let starting = Self.service(deployments: #"[{"status":"PRIMARY","desiredCount":2,"runningCount":1,"rolloutState":"IN_PROGRESS"}]"#)
        #expect(ECSProvider.rollout(of: starting, expecting: Self.ours) == .inProgress("1 deployment, rollout IN_PROGRESS, 1 of 2 tasks running"))

        let shortOfTasks = Self.service(deployments: #"[{"status":"PRIMARY","desiredCount":2,"runningCount":1,"rolloutState":"COMPLETED"}]"#)
        #expect(ECSProvider.rollout(of: shortOfTasks, expecting: Self.ours) != .stable)
    }

    @Test func aFailedRolloutOrAnotherTaskDefinitionEndsTheWait() {
        let failed = Self.service(
            deployments: #"[{"status":"PRIMARY","desiredCount":2,"runningCount":0,"rolloutState":"FAILED","#
                + #""rolloutStateReason":"ECS deployment circuit breaker: tasks failed to start."}]"#)
        #expect(ECSProvider.rollout(of: failed, expecting: Self.ours) == .failed("ECS deployment circuit breaker: tasks failed to start."))
        let rolledBack = Self.service(Self.old, deployments: #"[{"status":"PRIMARY","desiredCount":2,"runningCount":2,"rolloutState":"COMPLETED"}]"#)
        #expect(ECSProvider.rollout(of: rolledBack, expecting: Self.ours) == .replaced(Self.old))
    }

    @Test func aNewRevisionChangesOnlyTheNamedContainerAndDropsWhatRegisterRefuses() throws {
        let described = JSONValue(
            parsing: """
                {"taskDefinitionArn":"\(Self.old)","family":"crm-api","revision":1,"status":"ACTIVE","networkMode":"awsvpc",
                 "containerDefinitions":[{"name":"web","image":"registry.example.com/crm-api:1.0.0","essential":true},
                                         {"name":"sidecar","image":"registry.example.com/proxy:2"}],
                 "requiresAttributes":[{"name":"com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
                 "compatibilities":["EC2","FARGATE"],"requiresCompatibilities":["FARGATE"],"cpu":"256","memory":"512",
                 "registeredAt":"2026-11-24T10:00:00Z","registeredBy":"arn:aws:iam::123456789012:user/ci"}
                """)!
        guard case let .object(fields) = described else {
            Issue.record("not an object")
            return
        }
        let tags = JSONValue.array([.object([("key", .string("team")), ("value", .string("crm"))])])
        let (input, image, unchanged) = try ECSProvider.registration(
            from: fields, tags: tags, container: "web",
            artifact: "registry.example.com/crm-api:1.1.0", version: "1.1.0")
        #expect(image == "registry.example.com/crm-api:1.1.0")
        #expect(!unchanged)
        #expect(input.map(\.0) == ["family", "networkMode", "containerDefinitions", "requiresCompatibilities", "cpu", "memory", "tags"])
        let containers = JSONValue.object(input)["containerDefinitions"]?.arrayValue ?? []
        #expect(containers[0]["image"]?.stringValue == "registry.example.com/crm-api:1.1.0")
        #expect(containers[0]["essential"] == .bool(true))
        #expect(containers[1]["image"]?.stringValue == "registry.example.com/proxy:2")

        let same = try ECSProvider.registration(
            from: fields, tags: nil, container: "web", artifact: "registry.example.com/crm-api:1.0.0", version: "1.0.0")
        #expect(same.unchanged)

        #expect(throws: ProviderError.self) {
            try ECSProvider.registration(from: fields, tags: nil, container: "api", artifact: "x:1", version: "1.1.0")
        }
    }

    @Test func artifactsBecomeImages() throws {
        #expect(
            try ECSProvider.image(artifact: "sha256:abc", existing: "registry.example.com:5000/crm-api:1.0.0", version: "1")
                == "registry.example.com:5000/crm-api@sha256:abc")
        #expect(try ECSProvider.image(artifact: "sha256:abc", existing: "crm-api@sha256:old", version: "1") == "crm-api@sha256:abc")
        #expect(try ECSProvider.image(artifact: "crm-api:2", existing: nil, version: "1") == "crm-api:2")
        for bad: String? in [nil, "", "https://example.com/crm.tar.gz", "s3://bucket/key.zip"] {
            #expect(throws: ProviderError.self) { try ECSProvider.image(artifact: bad, existing: "crm-api:1", version: "1") }
        }
    }

    @Test func lambdaArtifactsAreS3ObjectsOrImages() throws {
        #expect(
            try LambdaProvider.Code(artifact: "s3://crm-artifacts/builds/crm-api-1.1.0.zip", release: "1.1.0")
                == .s3(bucket: "crm-artifacts", key: "builds/crm-api-1.1.0.zip", version: nil))
        #expect(try LambdaProvider.Code(artifact: "s3://b/k.zip?versionId=3%2Fx", release: "1") == .s3(bucket: "b", key: "k.zip", version: "3/x"))
        #expect(
            try LambdaProvider.Code(artifact: "123456789012.dkr.ecr.us-east-1.amazonaws.com/crm-api:1.1.0", release: "1")
                == .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/crm-api:1.1.0"))
        for bad: String? in [nil, "s3://bucket", "s3://bucket/", "s3:///key", "https://example.com/x.zip"] {
            #expect(throws: ProviderError.self) { try LambdaProvider.Code(artifact: bad, release: "1") }
        }
    }

    @Test func awsErrorsReadTheWayEachProtocolWritesThem() {
        let json11 = AWSErrorAnswer(
            status: 400, headers: [:], body: Array(#"{"__type":"com.amazonaws.ecs#ServiceNotFoundException","message":"Service not found."}"#.utf8))
        #expect(json11.code == "ServiceNotFoundException")
        #expect(json11.summary == "ServiceNotFoundException: Service not found.")
        let rest = AWSErrorAnswer(
            status: 404, headers: ["x-amzn-errortype": "ResourceNotFoundException:http://internal.amazon.com/"],
            body: Array(#"{"Type":"User","Message":"Function not found: crm"}"#.utf8))
        #expect(rest.summary == "ResourceNotFoundException: Function not found: crm")
        let xml = AWSErrorAnswer(
            status: 403, headers: [:],
            body: Array(
                ("<?xml version=\"1.0\"?><ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
                    + "<Message>The request signature we calculated does not match.</Message></Error></ErrorResponse>").utf8))
        #expect(xml.code == "SignatureDoesNotMatch")
        let throttled = AWSErrorAnswer(status: 400, headers: [:], body: Array(#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.utf8))
        #expect(throttled.isThrottling)
        #expect(AWSErrorAnswer(status: 429, headers: ["x-amzn-errortype": "TooManyRequestsException"], body: []).isThrottling)
        #expect(!json11.isThrottling)
    }
}
