import Foundation
import ReleaseCore

/// Collects what a provider records write-ahead, for tests to inspect.
public final class RecordedOperations: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [JSONValue] = []

    /// Creates an empty record.
    public init() {}

    /// Everything recorded so far, in order.
    public var values: [JSONValue] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }

    private func append(_ value: JSONValue) {
        lock.lock()
        items.append(value)
        lock.unlock()
    }

    /// The recorder to hand to a provider.
    public var recorder: OperationRecorder {
        { value in self.append(value) }
    }
}
