import Foundation
import ProviderKit
import ReleaseCore
import ReleaseTestSupport
import Testing

/// The one table of API errors, and the one rule for answers that are not JSON.
@Suite struct PlatformAPITests {
    static let errors = APIErrors(
        credential: "EXAMPLE_TOKEN", rejectedAdvice: "Set EXAMPLE_TOKEN to a valid token.",
        forbiddenAdvice: { "Allow \($0) for the token." }, lookupKeys: "`example.app`")

    static func answer(_ status: Int, _ body: String = #"{"id":"oops","message":"It went wrong."}"#) -> ErrorAnswer {
        ErrorAnswer(
            idAndMessage: APIClient.StatusError(
                status: status, request: "POST /apps/crm/builds", body: JSONValue(parsing: Array(body.utf8)), text: body))
    }

    @Test(
        "each status falls in its row, with its kind and a message naming the credential or the request",
        arguments: [
            (
                401, ProviderError.Kind.configuration,
                "Example rejected EXAMPLE_TOKEN (HTTP 401, oops: It went wrong.). Set EXAMPLE_TOKEN to a valid token."
            ),
            (
                403, .configuration,
                "Example refused EXAMPLE_TOKEN for POST /apps/crm/builds (HTTP 403, oops: It went wrong.). Allow POST /apps/crm/builds for the token."
            ),
            (
                404, .configuration,
                "Example does not know POST /apps/crm/builds (HTTP 404, oops: It went wrong.). Check `example.app` in release.yml."
            ),
            (409, .failed, "Example refused POST /apps/crm/builds (HTTP 409, oops: It went wrong.)."),
            (422, .failed, "Example refused POST /apps/crm/builds (HTTP 422, oops: It went wrong.)."),
            (429, .unreachable, "Example kept failing POST /apps/crm/builds (HTTP 429, oops: It went wrong.)."),
            (503, .unreachable, "Example kept failing POST /apps/crm/builds (HTTP 503, oops: It went wrong.)."),
        ])
    func table(status: Int, kind: ProviderError.Kind, message: String) {
        let error = Self.errors.error(Self.answer(status), platform: "Example")
        #expect(error.kind == kind)
        #expect(error.message == message)
    }

    @Test func anErrorBodyThatIsNotJSONIsQuotedAsItIs() {
        #expect(Self.answer(500, "upstream timed out").says == "upstream timed out")
        #expect(ErrorAnswer(row: .rejected, request: "query Follow", status: nil, says: "Not Authorized").detail == "Not Authorized")
    }

    static func api(_ server: LoopbackHTTPServer) -> PlatformAPI {
        PlatformAPI(
            .init(baseURL: server.url(""), headers: [], platform: "Example", maxAttempts: 1), errors: Self.errors)
    }

    @Test func anEmptyAnswerIsAnEmptyObjectAndAnErrorAnswerGoesThroughTheTable() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number == 1 ? .init(status: 204, body: "") : .init(status: 404, body: #"{"id":"not_found","message":"No such app."}"#)
        } body: { server in
            let empty = try await Self.api(server).call(.POST, "/apps/crm/rollback/commit")
            #expect(empty == .object([]))
            let error = await #expect(throws: ProviderError.self) { try await Self.api(server).call(.GET, "/apps/crm") }
            #expect(error?.message == "Example does not know GET /apps/crm (HTTP 404, not_found: No such app.). Check `example.app` in release.yml.")
        }
    }

    @Test func aMalformedAnswerIsLookedAtAgainInsideAWaitAndUnreachableElsewhere() async throws {
        try await LoopbackHTTPServer.withServer { request in
            request.number == 3 ? .init(status: 200, body: #"{"phase":"ACTIVE"}"#) : .init(status: 200, body: "<html>gateway</html>")
        } body: { server in
            let api = Self.api(server)
            let phase = try await Poller(interval: .milliseconds(10), timeout: .seconds(30)).wait {
                try await api.call(.POST, "", json: .object([]), retryable: true, label: "query Follow")["phase"]?.stringValue
            } until: { phase in
                phase
            } expired: { _ in
                "expired"
            }
            #expect(phase == "ACTIVE", "the wait looked again after two malformed answers")
            let unreachable = await #expect(throws: ProviderError.self) { try await api.call(.GET, "/apps/crm/builds/1") }
            #expect(unreachable?.kind == .unreachable)
            #expect(unreachable?.message == "Example answered GET /apps/crm/builds/1 with malformed JSON.")
            let acted = await #expect(throws: ProviderError.self) { try await api.call(.POST, "/apps/crm/builds", json: .object([])) }
            #expect(acted?.kind == .unreachable)
            #expect(
                acted?.message
                    == "Example answered POST /apps/crm/builds with malformed JSON. It may have acted, so check on Example before retrying.")
        }
    }
}
