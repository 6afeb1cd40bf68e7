import Foundation
import ReleaseCore
import Testing

@testable import ProviderKit

/// What the notifier sends where, without a network: the receivers' wire formats and secrecy.
@Suite struct NotifierTests {
    static func event(_ action: String, rolledBackTo: String? = nil) -> OperationEvent {
        OperationEvent(
            action: action, app: "crm-api", environment: "main", version: "1.2.0", previousVersion: "1.1.0",
            rolledBackTo: rolledBackTo, actor: "alice", at: Timestamp(seconds: 1_780_000_000), commit: "0123456789abcdef",
            reason: "a <b> & c", message: "1.2.0 is live on main.")
    }

    @Test func webhookPathsAndQueriesAreNeverShown() {
        #expect(Notifier.shown("https://hooks.slack.com/services/T000/B000/XXXX") == "https://hooks.slack.com/…")
        #expect(Notifier.shown("http://127.0.0.1:8080/hook?token=abc") == "http://127.0.0.1:8080/…")
        #expect(Notifier.shown("https://example.com") == "https://example.com")
    }

    @Test func everyPromotionRollbackFailureAndFreezeIsAnnouncedButNotEveryDeploy() {
        for action in [
            "promote.live", "rollback.live", "promote.failed", "deploy.failed", "rollback.failed", "watch.failed",
            "freeze.started", "freeze.lifted", "promote.held", "promote.observed", "verify.failed",
        ] {
            #expect(Notifier.announces(Self.event(action)), "\(action)")
        }
        #expect(!Notifier.announces(Self.event("deploy.live")))
    }

    @Test func signalVerdictsHaveTitlesThatSayWhatHappened() {
        #expect(Self.event("promote.held").title == "crm-api: 1.2.0 held on main: live, not verified (signals inconclusive)")
        #expect(Self.event("verify.failed", rolledBackTo: "1.1.0").title == "crm-api: 1.2.0 failed its signals on main, rolled back to 1.1.0")
        #expect(Self.event("watch.failed").title == "crm-api: 1.2.0 failed during a watch on main")
    }

    @Test func issuesAreForFailedPromotionsAndRollbacksOnly() {
        #expect(Self.event("promote.failed").isFailure)
        #expect(Self.event("rollback.live").isRollback)
        #expect(Self.event("deploy.failed", rolledBackTo: "1.1.0").isRollback, "the engine's own rollback counts")
        #expect(!Self.event("deploy.failed").isRollback)
        #expect(!Self.event("promote.live").isRollback)
    }

    @Test func theJSONBodyHasTheDocumentedKeysAndSlackGetsTextAndBlocksEscaped() {
        let json = Self.event("promote.failed", rolledBackTo: "1.1.0").json
        for key in ["event", "app", "environment", "version", "previous_version", "rolled_back_to", "actor", "at", "commit", "reason", "message"] {
            #expect(json[key] != nil, "\(key)")
        }
        #expect(json["rolled_back_to"]?.stringValue == "1.1.0")
        let slack = Notifier.slackMessage(Self.event("promote.failed", rolledBackTo: "1.1.0"))
        #expect(slack["text"]?.stringValue == ":red_circle: crm-api: promotion of 1.2.0 to main failed, rolled back to 1.1.0")
        let blocks = slack["blocks"]?.arrayValue ?? []
        #expect(blocks.count == 3)
        #expect(blocks[1]["fields"]?.arrayValue?.contains { $0["text"]?.stringValue == "*Reason:* a &lt;b&gt; &amp; c" } == true)
    }

    @Test func withoutAGitHubTokenNoIssueIsOpenedAndTheWarningSaysWhy() async {
        final class Lines: @unchecked Sendable {
            var items: [String] = []
            let lock = NSLock()
        }
        let lines = Lines()
        let notifier = Notifier(
            configuration: NotifyConfiguration(githubIssues: .init(repo: "acme/crm-api")), environment: [:],
            log: { line in
                lines.lock.lock()
                lines.items.append(line)
                lines.lock.unlock()
            })
        let deliveries = await notifier.send(Self.event("promote.failed"))
        #expect(
            deliveries == [
                Notifier.Delivery(
                    receiver: "GitHub issue in acme/crm-api", delivered: false,
                    failure: "GITHUB_TOKEN is not set, so no issue was opened in acme/crm-api")
            ])
        #expect(lines.items.first?.contains("GITHUB_TOKEN is not set") == true)
    }
}
