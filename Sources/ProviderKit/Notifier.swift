import AsyncHTTPClient
import Foundation
import NIOHTTP1
import ReleaseCore

/// Posts operation events to the `notify:` receivers: webhooks (plain JSON or Slack's message
/// format) and, for failed promotions and rollbacks, a GitHub issue. Every receiver is tried a
/// bounded number of times; one that stays down is logged and never fails the operation. What is
/// sent goes through `Secrets` first: a failure's message may quote what a platform echoed.
public struct Notifier: Sendable {
    /// How one receiver fared.
    public struct Delivery: Sendable, Equatable {
        /// The receiver, with any secret in its URL hidden.
        public var receiver: String
        /// Whether it accepted the notification.
        public var delivered: Bool
        /// Why not, when it did not.
        public var failure: String?
    }

    /// The receivers.
    public let configuration: NotifyConfiguration
    /// The process environment (GITHUB_TOKEN, GITHUB_API_URL).
    public let environment: [String: String]
    /// Where failures are reported (stderr in the CLI).
    public let log: @Sendable (String) -> Void
    /// Attempts per receiver.
    public var maxAttempts: Int
    /// Per-request timeout.
    public var timeout: TimeSpan
    /// The first backoff between attempts (doubling, with jitter).
    public var initialBackoff: TimeSpan
    private let client: HTTPClient?

    /// Creates a notifier over `client`, by default the shared one, which starts only when the
    /// first notification goes out (every command builds a notifier).
    public init(
        configuration: NotifyConfiguration, environment: [String: String], log: @escaping @Sendable (String) -> Void,
        maxAttempts: Int = 3, timeout: TimeSpan = .seconds(5), initialBackoff: TimeSpan = .milliseconds(500),
        client: HTTPClient? = nil
    ) {
        self.configuration = configuration
        self.environment = environment
        self.log = log
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.initialBackoff = initialBackoff
        self.client = client
    }

    /// Whether anything is configured.
    public var isEmpty: Bool { configuration.webhooks.isEmpty && configuration.githubIssues == nil }

    /// Sends `event` to every receiver at once and waits for all of them (each bounded by its
    /// attempts and timeout). Never throws.
    @discardableResult
    public func send(_ event: OperationEvent) async -> [Delivery] {
        guard Self.announces(event) else { return [] }
        let notifier = self
        return await withTaskGroup(of: Delivery?.self) { group in
            for hook in configuration.webhooks {
                group.addTask { await notifier.post(event, to: hook) }
            }
            if let issues = configuration.githubIssues, event.isRollback || event.action == "promote.failed" {
                group.addTask { await notifier.openIssue(event, in: issues) }
            }
            var deliveries: [Delivery] = []
            for await delivery in group {
                if let delivery { deliveries.append(delivery) }
            }
            return deliveries
        }
    }

    /// Promotions, rollbacks, failures and freezes; not every deploy to develop.
    public static func announces(_ event: OperationEvent) -> Bool {
        event.action != "deploy.live"
    }

    /// `https://hooks.slack.com/…`: scheme and host only, since webhook paths are secrets.
    public static func shown(_ url: String) -> String {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, let host = parts.host else { return "a webhook" }
        let port = parts.port.map { ":\($0)" } ?? ""
        let hasMore = !(parts.percentEncodedPath.isEmpty || parts.percentEncodedPath == "/") || parts.percentEncodedQuery != nil
        return "\(scheme)://\(host)\(port)\(hasMore ? "/…" : "")"
    }

    func post(_ event: OperationEvent, to hook: NotifyConfiguration.Webhook) async -> Delivery {
        let shown = Self.shown(hook.url)
        let body: JSONValue
        switch hook.format {
        case .json: body = event.json
        case .slack: body = Self.slackMessage(event)
        }
        let api = apiClient(baseURL: hook.url, headers: [], platform: "webhook \(shown)")
        return await deliver(to: shown) {
            _ = try await api.send(.POST, "", json: Secrets.redact(body), retryable: true, label: "POST \(shown)")
        }
    }

    func openIssue(_ event: OperationEvent, in issues: NotifyConfiguration.GitHubIssues) async -> Delivery {
        let shown = "GitHub issue in \(issues.repo)"
        guard let token = environment.secret("GITHUB_TOKEN") else {
            let failure = "GITHUB_TOKEN is not set, so no issue was opened in \(issues.repo)"
            log("Warning: \(failure).")
            return Delivery(receiver: shown, delivered: false, failure: failure)
        }
        let base = environment["GITHUB_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.github.com"
        let api = apiClient(
            baseURL: base,
            headers: [
                ("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28"),
                ("Authorization", "Bearer \(token)"),
            ],
            platform: "GitHub")
        let body = Secrets.redact(
            JSONValue.object([
                ("title", .string(event.title)),
                ("body", .string(Self.issueBody(event))),
                ("labels", .array(issues.labels.map(JSONValue.string))),
            ]))
        // Not retried on 5xx: a second POST could open a second issue. 429 is retried (nothing was done).
        return await deliver(to: shown) {
            _ = try await api.send(.POST, "/repos/\(issues.repo)/issues", json: body, retryable: false, label: "POST /repos/\(issues.repo)/issues")
        }
    }

    /// A client for one receiver, with this notifier's attempts, timeout and backoff.
    private func apiClient(baseURL: String, headers: [(String, String)], platform: String) -> APIClient {
        APIClient(
            configuration: .init(
                baseURL: baseURL, headers: headers + [("User-Agent", ReleaseInfo.userAgent)], platform: platform,
                timeout: timeout, maxAttempts: maxAttempts,
                initialBackoff: initialBackoff, maxBackoff: .seconds(5)), client: client ?? .release)
    }

    private func deliver(to receiver: String, _ body: () async throws -> Void) async -> Delivery {
        do {
            try await body()
            return Delivery(receiver: receiver, delivered: true, failure: nil)
        } catch let error as APIClient.StatusError {
            let failure = "\(error.request) answered HTTP \(error.status)"
            log("Warning: the notification to \(receiver) failed: \(failure). The operation itself is not affected.")
            return Delivery(receiver: receiver, delivered: false, failure: failure)
        } catch let error as ProviderError {
            log("Warning: the notification to \(receiver) failed: \(error.message) The operation itself is not affected.")
            return Delivery(receiver: receiver, delivered: false, failure: error.message)
        } catch {
            log("Warning: the notification to \(receiver) failed. The operation itself is not affected.")
            return Delivery(receiver: receiver, delivered: false, failure: "\(type(of: error))")
        }
    }

    /// Slack's incoming-webhook message: `text` (the fallback) and blocks.
    static func slackMessage(_ event: OperationEvent) -> JSONValue {
        let icon = event.isFailure ? ":red_circle:" : event.isRollback ? ":rewind:" : event.action.hasPrefix("freeze") ? ":snowflake:" : ":rocket:"
        var fields: [String] = ["*Environment:* \(event.environment)", "*By:* \(event.actor)"]
        if let version = event.version { fields.append("*Version:* \(version)") }
        if let previous = event.previousVersion { fields.append("*Before:* \(previous)") }
        if let back = event.rolledBackTo { fields.append("*Rolled back to:* \(back)") }
        if let commit = event.commit { fields.append("*Commit:* `\(commit.prefix(12))`") }
        if let reason = event.reason { fields.append("*Reason:* \(escape(reason))") }
        return .object([
            ("text", .string("\(icon) \(escape(event.title))")),
            (
                "blocks",
                .array([
                    .object([
                        ("type", .string("section")),
                        (
                            "text",
                            .object([
                                ("type", .string("mrkdwn")),
                                (
                                    "text",
                                    .string(
                                        "\(icon) "
                                            + "*\(escape(event.title))*\n\(escape(event.message))")
                                ),
                            ])
                        ),
                    ]),
                    .object([
                        ("type", .string("section")),
                        ("fields", .array(fields.map { .object([("type", .string("mrkdwn")), ("text", .string($0))]) })),
                    ]),
                    .object([
                        ("type", .string("context")),
                        (
                            "elements",
                            .array([
                                .object([
                                    ("type", .string("mrkdwn")),
                                    (
                                        "text",
                                        .string(
                                            "\(event.action) at "
                                                + "\(event.at.rfc3339)")
                                    ),
                                ])
                            ])
                        ),
                    ]),
                ])
            ),
        ])
    }

    /// Slack's control characters in text.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func issueBody(_ event: OperationEvent) -> String {
        var lines = [event.message, "", "| | |", "|---|---|", "| app | \(event.app) |", "| environment | \(event.environment) |"]
        if let version = event.version { lines.append("| version | \(version) |") }
        if let previous = event.previousVersion { lines.append("| before | \(previous) |") }
        if let back = event.rolledBackTo { lines.append("| rolled back to | \(back) |") }
        if let commit = event.commit { lines.append("| commit | \(commit) |") }
        if let reason = event.reason { lines.append("| reason | \(reason.replacingOccurrences(of: "|", with: "\\|")) |") }
        lines.append("| by | \(event.actor) |")
        lines.append("| at | \(event.at.rfc3339) |")
        lines += ["", "Opened by `release` (\(event.action)). `release audit --env \(event.environment)` has the full trail."]
        return lines.joined(separator: "\n")
    }
}
