import Foundation
import NIOHTTP1
import ProviderKit
import ReleaseCore

/// One AWS service as the providers use it: its signing name, the environment variable that
/// points it elsewhere, and how to call it.
struct AWSService: Sendable {
    /// `ecs`, `lambda`: the signing name and the endpoint's first label.
    var signingName: String
    /// `AWS_ENDPOINT_URL_ECS`, ….
    var endpointVariable: String
    /// "Amazon ECS", for messages.
    var title: String
    /// The prefix of its actions in IAM policies (`cloudwatch`, where the signing name is `monitoring`).
    var iamPrefix: String

    init(signingName: String, endpointVariable: String, title: String, iamPrefix: String? = nil) {
        self.signingName = signingName
        self.endpointVariable = endpointVariable
        self.title = title
        self.iamPrefix = iamPrefix ?? signingName
    }

    static let ecs = AWSService(signingName: "ecs", endpointVariable: "AWS_ENDPOINT_URL_ECS", title: "Amazon ECS")
    static let lambda = AWSService(signingName: "lambda", endpointVariable: "AWS_ENDPOINT_URL_LAMBDA", title: "AWS Lambda")
    static let cloudwatch = AWSService(
        signingName: "monitoring", endpointVariable: "AWS_ENDPOINT_URL_CLOUDWATCH", title: "Amazon CloudWatch", iamPrefix: "cloudwatch")
}

/// An AWS error answer: the error code (`ServiceNotFoundException`) and message, from a JSON 1.1
/// body (`__type`), a REST-JSON answer (`x-amzn-errortype`, `Message`) or an XML body (`<Code>`).
struct AWSErrorAnswer: Sendable {
    var status: Int
    var code: String
    var message: String

    init(status: Int, headers: [String: String], body: [UInt8]) {
        self.init(status: status, headers: headers, json: JSONValue(parsing: body), text: String(decoding: body, as: UTF8.self))
    }

    init(status: Int, headers: [String: String], json: JSONValue?, text: String) {
        self.status = status
        var code = headers["x-amzn-errortype"] ?? json?["__type"]?.stringValue ?? json?["code"]?.stringValue ?? json?["Code"]?.stringValue
        var message = json?["message"]?.stringValue ?? json?["Message"]?.stringValue ?? json?["errorMessage"]?.stringValue
        if json == nil {
            code = code ?? Self.element("Code", in: text)
            message = message ?? Self.element("Message", in: text)
        }
        // "com.amazonaws.ecs#ClusterNotFoundException", "ResourceNotFoundException:http://…"
        var cleaned = code ?? ""
        if let hash = cleaned.lastIndex(of: "#") { cleaned = String(cleaned[cleaned.index(after: hash)...]) }
        if let colon = cleaned.firstIndex(of: ":") { cleaned = String(cleaned[..<colon]) }
        self.code = cleaned.isEmpty ? "HTTP \(status)" : cleaned
        self.message = message ?? ""
    }

    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"),
            let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
    }

    static let throttling: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
        "RequestThrottled", "RequestThrottledException", "SlowDown", "ProvisionedThroughputExceededException",
        "LimitExceededException", "EC2ThrottledException", "BandwidthLimitExceeded", "PriorRequestNotComplete",
    ]
    static let credentials: Set<String> = [
        "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "InvalidSignatureException",
        "MissingAuthenticationToken", "MissingAuthenticationTokenException", "IncompleteSignature", "IncompleteSignatureException",
        "ExpiredToken", "ExpiredTokenException", "AuthFailure", "InvalidAccessKeyId", "RequestExpired",
    ]
    static let denied: Set<String> = ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"]

    var isThrottling: Bool { status == 429 || Self.throttling.contains(code) }
    var summary: String { message.isEmpty ? code : "\(code): \(message)" }

    /// The answer as the shared table reads it: its row from AWS's error code, else the status.
    func answer(to operation: String) -> ErrorAnswer {
        let row: ErrorAnswer.Row =
            if Self.credentials.contains(code) {
                .rejected
            } else if Self.denied.contains(code) {
                .forbidden
            } else if code.hasSuffix("NotFoundException") || code == "NotFound" {
                .notFound
            } else if isThrottling {
                .busy
            } else {
                .init(status: status)
            }
        return ErrorAnswer(row: row, request: operation, status: status, says: summary)
    }
}

/// What an AWS provider reaches its service with: credentials and region as the AWS CLI finds them
/// (`AWSSession`), and the process environment, whose variables may point at another endpoint.
public struct AWSAccess: ProviderCredentials {
    /// The service.
    let service: AWSService
    /// The credentials and region.
    let session: AWSSession
    /// The process environment.
    let environment: [String: String]
    /// Where release.yml may set the region, for the error its absence gives: "`region` in the
    /// environment's aws-ecs block", "`monitors.cloudwatch.region`".
    let regionKey: String

    /// Resolves credentials and region for `service`; `region` is the provider block's (`block`),
    /// or what `regionKey` says when given.
    init(_ service: AWSService, environment: [String: String], region: String?, block: String, regionKey: String? = nil) {
        self.service = service
        session = AWSSession(environment: environment, configuredRegion: region)
        self.environment = environment
        self.regionKey = regionKey ?? "`region` in the environment's \(block) block"
    }

    /// Missing credentials or region are usage errors, with advice.
    public func preflight() throws {
        _ = try credentialsAndRegion()
    }

    /// A signing client; `lookupKeys` are the release.yml keys to check when AWS does not know a
    /// resource.
    func client(settings: ProviderSettings, lookupKeys: String) throws -> AWSClient {
        let (credentials, region) = try credentialsAndRegion()
        return AWSClient(
            service: service, credentials: credentials, region: region, settings: settings, environment: environment, lookupKeys: lookupKeys)
    }

    private func credentialsAndRegion() throws -> (AWSCredentials, String) {
        guard let credentials = session.credentials else {
            throw ReleaseError.usage(session.missingCredentials ?? "No AWS credentials.")
        }
        guard let region = session.region else {
            throw ReleaseError.usage("No AWS region: set \(regionKey) in release.yml, or AWS_REGION.")
        }
        return (credentials, region)
    }
}

/// Signs and sends requests to one AWS service in one region, retrying throttling with backoff.
struct AWSClient: Sendable {
    let service: AWSService
    let region: String
    let endpoint: String
    let api: PlatformAPI

    /// Resolves the endpoint (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, `api_url`, then the
    /// public one for the region) and builds a signing client. `lookupKeys` say which release.yml
    /// keys to check when AWS does not know a resource.
    init(
        service: AWSService, credentials: AWSCredentials, region: String, settings: ProviderSettings, environment: [String: String],
        lookupKeys: String
    ) {
        self.service = service
        self.region = region
        endpoint = settings.baseURL(
            overriddenBy: [service.endpointVariable, "AWS_ENDPOINT_URL"], in: environment,
            platform: "https://\(service.signingName).\(region).amazonaws.com")
        let signer = SigV4Signer(
            credentials: credentials, region: region, service: service.signingName,
            unsignedHeaders: SigV4Signer.sdkUnsignedHeaders)
        let errors = APIErrors(
            credential: "the AWS credentials",
            rejectedAdvice: "Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or AWS_PROFILE.",
            forbiddenAdvice: { "Allow \(service.iamPrefix):\($0) in the IAM policy of the user or role." }, lookupKeys: lookupKeys,
            read: { AWSErrorAnswer(status: $0.status, headers: $0.headers, json: $0.body, text: $0.text).answer(to: $0.request) })
        api = PlatformAPI(
            .init(
                baseURL: endpoint, headers: [("Accept", "application/json")], platform: service.title,
                authorize: { method, url, headers, body in
                    guard let parts = URLComponents(string: url), let host = parts.host else { return headers }
                    let authority = parts.port.map { "\(host):\($0)" } ?? host
                    var all = headers.filter { $0.0.lowercased() != "host" }
                    all.insert(("Host", authority), at: 0)
                    let signed = signer.sign(
                        .init(
                            method: method, path: parts.percentEncodedPath, query: parts.percentEncodedQuery ?? "",
                            headers: all, body: body), at: Date())
                    return signed.headers
                },
                refusedWithoutActing: { response in
                    AWSErrorAnswer(status: response.status, headers: response.headers, body: response.body).isThrottling
                }), errors: errors)
    }

    /// A JSON RPC call (ECS: JSON 1.1, CloudWatch: JSON 1.0): `POST /` with
    /// `X-Amz-Target: <prefix>.<operation>`.
    func jsonRPC(_ target: String, _ operation: String, _ input: JSONValue, version: String = "1.1", retryable: Bool) async throws -> JSONValue {
        try await api.call(
            .POST, "/", json: input, contentType: "application/x-amz-json-\(version)",
            headers: [("X-Amz-Target", "\(target).\(operation)")], retryable: retryable, label: operation)
    }

    /// A REST-JSON call (Lambda).
    func rest(_ method: HTTPMethod, _ path: String, _ input: JSONValue? = nil, operation: String) async throws -> JSONValue {
        try await api.call(method, path, json: input, label: operation)
    }
}
