import ProviderKit
import ReleaseCore
import ReleaseTestSupport

/// What the signal tests share: a window, quick retries, the fakes' request logs.
enum SignalFixtures {
    /// Five minutes after a cutover, ending half a second past a whole second.
    static let window = SignalWindow(start: Timestamp(seconds: 1_780_000_000), end: Timestamp(microseconds: 1_780_000_300_500_000))

    /// Three attempts a few milliseconds apart, so a server that stays down fails a test quickly.
    static let quickRetries = MonitorAPI(maxAttempts: 3, initialBackoff: .milliseconds(5), maxBackoff: .seconds(2))

    /// A deploy marker's mark.
    static func mark(_ kind: DeployMark.Kind, environment: String? = "production") -> DeployMark {
        DeployMark(
            kind: kind, app: "crm", version: "1.4.2", releaseName: "crm-api@1.4.2", commit: "0123456789abcdef0123456789abcdef01234567",
            environment: kind == .created ? nil : environment, service: "crm-api", at: Timestamp(seconds: 1_780_000_000),
            message: "crm-api 1.4.2 is live on production.")
    }
}
