import Dispatch

/// Runs an actor's jobs on one private dispatch queue, so blocking libpq calls never occupy
/// a thread of Swift's cooperative pool.
public final class DispatchSerialExecutor: SerialExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    /// Creates an executor over a new serial queue with the given label.
    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async {
            unownedJob.runSynchronously(on: executor)
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
