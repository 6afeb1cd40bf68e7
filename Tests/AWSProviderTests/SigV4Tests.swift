import Foundation
import Testing

@testable import AWSProvider

/// Our signer against every case of the official SigV4 test suite (SigV4Suite.swift), byte for byte.
@Suite struct SigV4Tests {
    /// A request.txt split into method, path, query, headers (folded lines kept) and body.
    static func parse(_ text: String) -> SigV4Signer.Request {
        var lines = text.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        var target = String(requestLine.dropFirst(method.count + 1))
        if target.hasSuffix(" HTTP/1.1") { target.removeLast(" HTTP/1.1".count) }
        let path = String(target.prefix { $0 != "?" })
        let query = target.count > path.count ? String(target.dropFirst(path.count + 1)) : ""
        var headers: [(String, String)] = []
        var bodyLines: [String]?
        for line in lines {
            if bodyLines != nil {
                bodyLines!.append(line)
                continue
            }
            if line.isEmpty {
                bodyLines = []
                continue
            }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].1 += "\n" + line
                continue
            }
            let colon = line.firstIndex(of: ":")!
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        let body = Array((bodyLines ?? []).joined(separator: "\n").utf8)
        return SigV4Signer.Request(method: method, path: path, query: query, headers: headers, body: body)
    }

    @Test("the suite has every case")
    func suiteIsComplete() {
        #expect(sigV4Suite.count == 38)
    }

    @Test("canonical request, string to sign, signature and Authorization match", arguments: sigV4Suite.map(\.name))
    func officialCase(_ name: String) throws {
        let suiteCase = try #require(sigV4Suite.first { $0.name == name })
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: suiteCase.accessKeyID, secretAccessKey: suiteCase.secretAccessKey, sessionToken: suiteCase.token),
            region: suiteCase.region, service: suiteCase.service, normalizePath: suiteCase.normalize,
            signBody: suiteCase.signBody, omitSessionToken: suiteCase.omitSessionToken)
        let date = try #require(ISO8601DateFormatter().date(from: suiteCase.timestamp))
        let signature = signer.sign(Self.parse(suiteCase.request), at: date)
        #expect(signature.canonicalRequest == suiteCase.canonicalRequest)
        #expect(signature.stringToSign == suiteCase.stringToSign)
        #expect(signature.signature == suiteCase.signature)
        #expect(signature.authorization == suiteCase.authorization)
        let sent = Dictionary(signature.headers.map { ($0.0.lowercased(), $0.1) }, uniquingKeysWith: { first, _ in first })
        #expect(sent["authorization"] == suiteCase.authorization)
        #expect(sent["x-amz-date"] == "20150830T123600Z")
        #expect(sent["x-amz-security-token"] == suiteCase.token)
    }

    @Test("a changed secret, body, header or date changes the signature")
    func sensitivity() throws {
        let date = Date(timeIntervalSince1970: 1_440_938_160)
        let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let request = SigV4Signer.Request(
            method: "POST", path: "/",
            headers: [
                ("Host", "ecs.us-east-1.amazonaws.com"),
                ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DescribeServices"),
            ],
            body: Array(#"{"cluster":"crm"}"#.utf8))
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "ecs")
        let base = signer.sign(request, at: date).signature
        var other = signer
        other.credentials.secretAccessKey += "x"
        #expect(other.sign(request, at: date).signature != base)
        var changedBody = request
        changedBody.body = Array(#"{"cluster":"crn"}"#.utf8)
        #expect(signer.sign(changedBody, at: date).signature != base)
        var changedHeader = request
        changedHeader.headers[1].1 = "AmazonEC2ContainerServiceV20141113.UpdateService"
        #expect(signer.sign(changedHeader, at: date).signature != base)
        #expect(signer.sign(request, at: date.addingTimeInterval(1)).signature != base)
        var otherRegion = signer
        otherRegion.region = "eu-west-1"
        #expect(otherRegion.sign(request, at: date).signature != base)
    }

    @Test("the body hash is signed as x-amz-content-sha256 and the secret appears in no header")
    func bodyHashAndSecrecy() {
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "token-123456")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "lambda")
        let signed = signer.sign(
            .init(method: "GET", path: "/2015-03-31/functions/crm/aliases/live", headers: [("Host", "127.0.0.1:5000")]),
            at: Date(timeIntervalSince1970: 0))
        #expect(signed.canonicalRequest.contains("x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(signed.authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
        #expect(signed.authorization.contains("Credential=AKIDEXAMPLE/19700101/us-east-1/lambda/aws4_request"))
        #expect(!signed.headers.contains { $0.1.contains(credentials.secretAccessKey) })
    }

    @Test("User-Agent is sent but, as in the AWS SDKs, not signed")
    func userAgentIsNotSigned() {
        let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "ecs", unsignedHeaders: SigV4Signer.sdkUnsignedHeaders)
        let request = SigV4Signer.Request(
            method: "POST", path: "/", headers: [("Host", "ecs.us-east-1.amazonaws.com"), ("User-Agent", "release/1.0")],
            body: Array("{}".utf8))
        let signed = signer.sign(request, at: Date(timeIntervalSince1970: 0))
        #expect(signed.headers.contains { $0.0 == "User-Agent" && $0.1 == "release/1.0" })
        #expect(signed.authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"))
        #expect(!signed.canonicalRequest.contains("user-agent"))
        let withoutAgent = signer.sign(
            .init(method: "POST", path: "/", headers: [("Host", "ecs.us-east-1.amazonaws.com")], body: Array("{}".utf8)),
            at: Date(timeIntervalSince1970: 0))
        #expect(withoutAgent.signature == signed.signature, "a proxy that rewrites User-Agent cannot break the signature")
    }
}
