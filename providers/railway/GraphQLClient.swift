import ProviderKit
import ReleaseCore

/// Sends GraphQL documents to Railway and turns `errors[]`, which Railway answers with HTTP 200,
/// into errors of the shared table (`APIErrors`).
struct GraphQLClient: Sendable {
    let api: PlatformAPI

    /// Runs a document; returns `data`. Queries are `idempotent` and retried on 5xx; mutations
    /// only after a 429.
    func run(_ document: String, variables: JSONValue, idempotent: Bool = false) async throws -> JSONValue {
        let operation = Self.operation(of: document)
        let json = try await api.call(
            .POST, "", json: .object([("query", .string(document)), ("variables", variables)]), retryable: idempotent, label: operation)
        guard case .object = json else { throw api.malformed(operation, repeatable: idempotent) }
        if let errors = json["errors"]?.arrayValue, !errors.isEmpty {
            throw api.errors.error(Self.answer(errors, to: operation), platform: api.platform)
        }
        guard let data = json["data"], data != .null else { throw api.malformed(operation, repeatable: idempotent) }
        return data
    }

    /// A document's kind and name, which messages name it by: "query Follow".
    static func operation(of document: String) -> String {
        let head = document.prefix { $0 != "(" && $0 != "{" }
        return head.split(whereSeparator: \.isWhitespace).prefix(2).joined(separator: " ")
    }

    /// `errors[]` as the table reads it: a credential Railway does not accept, or a refusal.
    static func answer(_ errors: [JSONValue], to operation: String) -> ErrorAnswer {
        let messages = errors.compactMap { $0["message"]?.stringValue }
        let codes = errors.compactMap { $0["extensions"]?["code"]?.stringValue }
        let unauthorized =
            codes.contains("UNAUTHORIZED") || codes.contains("UNAUTHENTICATED")
            || messages.contains { $0.lowercased().contains("not authorized") }
        return ErrorAnswer(
            row: unauthorized ? .rejected : .refused, request: operation, status: nil, says: messages.joined(separator: "; "))
    }

    /// An HTTP error answer as the table reads it: the first error's message, the status's row.
    static func read(_ error: APIClient.StatusError) -> ErrorAnswer {
        let message = error.body?["errors"]?.arrayValue?.first?["message"]?.stringValue ?? error.text
        return ErrorAnswer(row: .init(status: error.status), request: error.request, status: error.status, says: message)
    }
}
