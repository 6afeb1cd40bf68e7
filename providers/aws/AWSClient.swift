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

    static let ecs = AWSService(signingName: "ecs", endpointVariable: "AWS_ENDPOINT_URL_ECS", title: "Amazon ECS")
    static let lambda = AWSService(signingName: "lambda", endpointVariable: "AWS_ENDPOINT_URL_LAMBDA", title: "AWS Lambda")
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
}

/// Signs and sends requests to one AWS service in one region, retrying throttling with backoff.
struct AWSClient: Sendable {
    let service: AWSService
    let region: String
    let endpoint: String
    let api: APIClient
    let hint: String

    /// Resolves the endpoint (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, `api_url`, then the
    /// public one for the region) and builds a signing client. `hint` says which release.yml keys
    /// to check when AWS does not know a resource.
    init(service: AWSService, credentials: AWSCredentials, region: String, apiURL: String?, environment: [String: String], hint: String) {
        self.service = service
        self.region = region
        self.hint = hint
        endpoint =
            environment.nonEmpty(service.endpointVariable) ?? environment.nonEmpty("AWS_ENDPOINT_URL") ?? apiURL
            ?? "https://\(service.signingName).\(region).amazonaws.com"
        let signer = SigV4Signer(
            credentials: credentials, region: region, service: service.signingName,
            unsignedHeaders: SigV4Signer.sdkUnsignedHeaders)
        api = APIClient(
            configuration: .init(
                baseURL: endpoint,
                headers: [("Accept", "application/json"), ("User-Agent", "release/\(ReleaseInfo.version)")],
                platform: service.title,
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
                }))
    }

    /// A client from resolved credentials and region; usage errors, with advice, when either is
    /// missing. `block` is the provider's name, which is the key of its block in release.yml.
    init(session: AWSSession, service: AWSService, block: String, apiURL: String?, environment: [String: String], hint: String) throws {
        guard let credentials = session.credentials else {
            throw ReleaseError.usage(session.missingCredentials ?? "No AWS credentials.")
        }
        guard let region = session.region else {
            throw ReleaseError.usage("No AWS region: set `region` in the environment's \(block) block of release.yml, or AWS_REGION.")
        }
        self.init(service: service, credentials: credentials, region: region, apiURL: apiURL, environment: environment, hint: hint)
    }

    /// A JSON 1.1 call (ECS): `POST /` with `X-Amz-Target: <prefix>.<operation>`.
    func json11(_ target: String, _ operation: String, _ input: JSONValue, retryable: Bool) async throws -> JSONValue {
        try await call(
            .POST, "/", body: input, contentType: "application/x-amz-json-1.1",
            headers: [("X-Amz-Target", "\(target).\(operation)")], retryable: retryable, label: operation)
    }

    /// A REST-JSON call (Lambda).
    func rest(_ method: HTTPMethod, _ path: String, _ input: JSONValue? = nil, operation: String) async throws -> JSONValue {
        try await call(
            method, path, body: input, contentType: input == nil ? nil : "application/json", headers: [],
            retryable: nil, label: operation)
    }

    private func call(
        _ method: HTTPMethod, _ path: String, body: JSONValue?, contentType: String?, headers: [(String, String)],
        retryable: Bool?, label: String
    ) async throws -> JSONValue {
        let response: APIClient.Response
        do {
            response = try await api.send(
                method, path, body: body.map { Array($0.text.utf8) }, contentType: contentType,
                headers: headers, retryable: retryable, label: label)
        } catch let error as APIClient.StatusError {
            throw failure(label, AWSErrorAnswer(status: error.status, headers: error.headers, json: error.body, text: error.text))
        }
        if response.body.isEmpty { return .object([]) }
        guard let json = response.json else {
            throw ProviderError(.unreachable, "\(service.title) answered \(label) with something that is not JSON.")
        }
        return json
    }

    /// The error to show for an AWS error answer: its code and message as AWS gave them.
    func failure(_ operation: String, _ answer: AWSErrorAnswer) -> ProviderError {
        let says = answer.summary
        if AWSErrorAnswer.credentials.contains(answer.code) || answer.status == 401 {
            return ProviderError(
                .configuration,
                "\(service.title) rejected the AWS credentials (\(operation): \(says)). Check "
                    + "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or AWS_PROFILE.")
        }
        if AWSErrorAnswer.denied.contains(answer.code) || answer.status == 403 {
            return ProviderError(
                .configuration,
                "The AWS credentials may not call \(operation) (\(says)). Allow "
                    + "\(service.signingName):\(operation) in the IAM policy of the user or role.")
        }
        if answer.code.hasSuffix("NotFoundException") || answer.code == "NotFound" || answer.status == 404 {
            return ProviderError(.configuration, "\(service.title) in \(region) refused \(operation): \(says). Check \(hint) in release.yml.")
        }
        if answer.isThrottling || answer.status >= 500 {
            return ProviderError(.unreachable, "\(service.title) kept refusing \(operation) (\(says)); try again later.")
        }
        return ProviderError(.failed, "\(service.title) refused \(operation): \(says).")
    }
}
