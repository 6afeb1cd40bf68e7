import ProviderKit
import ReleaseCore

/// Sends GraphQL documents and turns `errors[]` (which Railway answers with HTTP 200) into
/// clear errors.
struct GraphQLClient: Sendable {
    let api: APIClient
    /// The variable that holds the token in use, for messages about rejected credentials.
    let tokenVariable: String

    /// A 2xx answer that was not a GraphQL response.
    struct MalformedAnswer: Error, CustomStringConvertible {
        var description: String { "Railway answered with a body that is not GraphQL JSON." }
    }

    /// Runs a document; returns `data`. Queries are `idempotent` and retried on 5xx; mutations
    /// only after a 429.
    func run(_ document: String, variables: JSONValue, idempotent: Bool = false) async throws -> JSONValue {
        let response: APIClient.Response
        do {
            response = try await api.send(
                .POST, "", json: .object([("query", .string(document)), ("variables", variables)]),
                retryable: idempotent)
        } catch let error as APIClient.StatusError {
            let message = error.body?["errors"]?.arrayValue?.first?["message"]?.stringValue ?? error.text
            switch error.status {
            case 401, 403:
                throw ProviderError(.configuration, "Railway rejected \(tokenVariable) (HTTP \(error.status): \(message)). Set it to a valid token.")
            case 429, 500...599:
                throw ProviderError(.unreachable, "Railway kept failing (HTTP \(error.status): \(message)).")
            default:
                throw ProviderError(.failed, "Railway refused the request (HTTP \(error.status): \(message)).")
            }
        }
        guard let json = response.json, case .object = json else {
            if idempotent { throw MalformedAnswer() }
            throw ProviderError(
                .unreachable,
                "Railway answered a mutation with a body that is not JSON; it may have acted, so check the "
                    + "service on Railway before retrying.")
        }
        if let errors = json["errors"]?.arrayValue, !errors.isEmpty {
            let messages = errors.compactMap { $0["message"]?.stringValue }
            let text = messages.joined(separator: "; ")
            let codes = errors.compactMap { $0["extensions"]?["code"]?.stringValue }
            if codes.contains("UNAUTHORIZED") || codes.contains("UNAUTHENTICATED")
                || messages.contains(where: {
                    $0.lowercased().contains(
                        "not "
                            + "authorized")
                })
            {
                throw ProviderError(.configuration, "Railway rejected \(tokenVariable) (\(text)). Set it to a token with access to this project.")
            }
            throw ProviderError(.failed, "Railway answered with errors: \(text).")
        }
        guard let data = json["data"], data != .null else { throw MalformedAnswer() }
        return data
    }
}
