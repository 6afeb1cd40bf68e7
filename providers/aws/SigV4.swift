import Crypto
import Foundation
import ReleaseCore

/// AWS credentials: an access key pair and, for temporary credentials, a session token.
public struct AWSCredentials: Sendable, Equatable {
    /// The access key id (not secret, but kept out of the database anyway).
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials.
    public var sessionToken: String?

    /// Creates credentials, and registers the secret key and session token with `Secrets`
    /// wherever they were read from (the environment, ~/.aws/credentials, ~/.aws/config).
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        Secrets.register(secretAccessKey)
        Secrets.register(sessionToken)
    }
}

/// Signature Version 4 (header signing): canonical request → string to sign → HMAC-SHA256 chain
/// over date, region, service and `aws4_request` → signature, as AWS describes it and as the
/// official test suite (awslabs/aws-c-auth tests/aws-signing-test-suite/v4) checks it.
public struct SigV4Signer: Sendable {
    /// A request to sign: the method, the path and query as they appear on the request line, the
    /// headers in order (names in any case, repeated names allowed) and the body.
    public struct Request: Sendable {
        /// GET, POST, ….
        public var method: String
        /// The path as sent (`/2015-03-31/functions/crm/code`); encoded again for the canonical form.
        public var path: String
        /// The raw query string after `?`, without it; empty when none.
        public var query: String
        /// The headers, in order; must include Host.
        public var headers: [(String, String)]
        /// The body bytes.
        public var body: [UInt8]

        /// Creates a request.
        public init(method: String, path: String, query: String = "", headers: [(String, String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// The key pair and token.
    public var credentials: AWSCredentials
    /// us-east-1, ….
    public var region: String
    /// The signing name: ecs, lambda, ….
    public var service: String
    /// Remove `.`/`..` segments and repeated slashes from the path (every service but S3).
    public var normalizePath: Bool
    /// Add and sign `x-amz-content-sha256` (S3 needs it; moto needs it for bodiless requests).
    public var signBody: Bool
    /// Add the session token after signing instead of signing it (a few services want that).
    public var omitSessionToken: Bool
    /// Headers sent but not signed (lowercased). The AWS SDKs leave `user-agent`, `expect` and
    /// `x-amzn-trace-id` out, since proxies may change them, and AWS-compatible servers that
    /// recompute the signature the SDKs' way (moto) drop them too.
    public var unsignedHeaders: Set<String>

    /// What the AWS SDKs never sign.
    public static let sdkUnsignedHeaders: Set<String> = ["user-agent", "expect", "x-amzn-trace-id"]

    /// Creates a signer.
    public init(
        credentials: AWSCredentials, region: String, service: String, normalizePath: Bool = true,
        signBody: Bool = true, omitSessionToken: Bool = false, unsignedHeaders: Set<String> = []
    ) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.normalizePath = normalizePath
        self.signBody = signBody
        self.omitSessionToken = omitSessionToken
        self.unsignedHeaders = unsignedHeaders
    }

    /// Every intermediate of one signature, for tests and for reading.
    public struct Signature: Sendable {
        /// The headers the signature covers, plus the ones signing adds, in the order to send them.
        public var headers: [(String, String)]
        /// The canonical request.
        public var canonicalRequest: String
        /// The string to sign.
        public var stringToSign: String
        /// The hex signature.
        public var signature: String
        /// The Authorization header's value.
        public var authorization: String
    }

    /// Signs `request` at `date`: returns the headers to send (the request's, then X-Amz-Date,
    /// x-amz-content-sha256, X-Amz-Security-Token and Authorization as they apply).
    public func sign(_ request: Request, at date: Date) -> Signature {
        let stamp = Self.timestamp(date)
        let day = String(stamp.prefix(8))
        let payloadHash = Self.hex(SHA256.hash(data: request.body))
        var headers = request.headers
        headers.append(("X-Amz-Date", stamp))
        if signBody { headers.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken, !omitSessionToken { headers.append(("X-Amz-Security-Token", token)) }

        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(headers.filter { !unsignedHeaders.contains($0.0.lowercased()) })
        let canonicalRequest = [
            request.method.uppercased(),
            Self.canonicalPath(request.path, normalize: normalizePath),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", stamp, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")

        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        if let token = credentials.sessionToken, omitSessionToken { headers.append(("X-Amz-Security-Token", token)) }
        headers.append(("Authorization", authorization))
        return Signature(
            headers: headers, canonicalRequest: canonicalRequest, stringToSign: stringToSign,
            signature: signature, authorization: authorization)
    }

    /// `20150830T123600Z`.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { (value ?? 0) < 10 ? "0\(value ?? 0)" : "\(value ?? 0)" }
        return "\(c.year ?? 1970)\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
    }

    /// Lowercased names, sorted; values trimmed with inner runs of whitespace (folded lines too)
    /// made one space; repeated names joined with commas in the order they came.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (text: String, signed: String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let collapsed = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
            values[name.lowercased(), default: []].append(collapsed)
        }
        let names = values.keys.sorted()
        let text = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (text, names.joined(separator: ";"))
    }

    /// The path URI-encoded per segment (slashes kept), after removing dot segments and empty
    /// segments when normalizing; `/` when empty.
    static func canonicalPath(_ path: String, normalize: Bool) -> String {
        var path = path.isEmpty ? "/" : path
        if normalize {
            var segments: [Substring] = []
            for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
                if segment == "." { continue }
                if segment == ".." {
                    if !segments.isEmpty { segments.removeLast() }
                    continue
                }
                segments.append(segment)
            }
            let trailing = path.hasSuffix("/") && !segments.isEmpty
            path = "/" + segments.joined(separator: "/") + (trailing ? "/" : "")
        }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { uriEncode(String($0)) }.joined(separator: "/")
    }

    /// Each `name=value` pair percent-decoded, then encoded the AWS way and sorted by name, then value.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true).map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            return (uriEncode(name), uriEncode(value))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Percent-encodes everything but the unreserved characters A–Z a–z 0–9 - _ . ~, uppercase hex.
    public static func uriEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
