import Foundation
import ReleaseCore

/// The places between the engine's write-ahead steps where a test build stops the process with
/// SIGKILL, to prove that `release recover` settles whatever a crash at that instant leaves.
///
/// Only debug builds (what `swift build` and the tests produce) look at `RELEASE_FAULT_POINT`,
/// which only tests set: `after-cutover` stops at the first time that point is reached,
/// `after-cutover@2` at the second (an automatic rollback reaches the points again). Release
/// builds compile the check away.
public enum FaultPoint: String, CaseIterable, Sendable {
    /// The deployment is committed `deploying` with a lease; the provider was not asked yet.
    case afterBegin = "after-begin"
    /// The provider's operation (build, deployment id, revision…) is recorded write-ahead.
    case afterRecord = "after-record"
    /// The provider reported the release serving; the cutover is not recorded yet.
    case afterProvider = "after-provider"
    /// The cutover is committed; verification has not started.
    case afterCutover = "after-cutover"
    /// Verification ended; its verdict is not recorded yet.
    case afterVerification = "after-verification"
    /// A failed verification is recorded, the release quarantined and the rollback deployment
    /// committed; the rollback has not started.
    case afterRollbackStarted = "after-rollback-started"
    /// The deployment is live; notifications and branch sync have not run.
    case afterLive = "after-live"

    #if DEBUG
    nonisolated(unsafe) private static var hits: [FaultPoint: Int] = [:]
    private static let lock = NSLock()
    private static let requested: (point: String, occurrence: Int)? = {
        guard let text = ProcessEnvironment.current["RELEASE_FAULT_POINT"], !text.isEmpty else { return nil }
        let parts = text.split(separator: "@", maxSplits: 1)
        return (String(parts[0]), parts.count == 2 ? Int(parts[1]) ?? 1 : 1)
    }()
    #endif

    /// Stops the process here if a test asked for it.
    public func reached() {
        #if DEBUG
        guard let requested = Self.requested, requested.point == rawValue else { return }
        Self.lock.lock()
        let count = (Self.hits[self] ?? 0) + 1
        Self.hits[self] = count
        Self.lock.unlock()
        if count == requested.occurrence {
            FileHandle.standardError.write(Data("release: stopping at fault point \(rawValue)@\(count) (RELEASE_FAULT_POINT)\n".utf8))
            kill(getpid(), SIGKILL)
        }
        #endif
    }
}
