import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The process groups of the commands this process runs (each `ChildProcess` leads its own), so
/// that an interrupted `release` takes its commands along instead of leaving them running: its
/// signal handler forwards the signal to every group, then a thread stops each group within its
/// grace period and kills what is left.
///
/// What a signal handler touches is lock-free and allocated ahead (`prepare`): a fixed table of
/// group ids read with atomic loads, an atomic flag, and kill(2).
public enum ProcessGroups {
    /// How many groups can run at once and still be reached by a signal (a run has one at a time).
    /// Computed, so a signal handler never initializes a stored property.
    static var capacity: Int { 16 }
    /// The running groups' ids, 0 in a free slot; every access is atomic.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<Atomic<Int32>> = {
        let slots = UnsafeMutablePointer<Atomic<Int32>>.allocate(capacity: capacity)
        for index in 0..<capacity { (slots + index).initialize(to: Atomic(0)) }
        return slots
    }()
    /// Set once an interruption took over this process: see `waitIfInterrupted`.
    private static let interrupted = Atomic<Bool>(false)
    /// The signal that interruption forwarded (0 before one).
    private static let forwarded = Atomic<Int32>(0)
    /// Commands being started: from just before the fork until their group is noted (`start`).
    private static let starting = Atomic<Int>(0)
    /// Each running group's grace period, for the thread that stops them (never read by a handler).
    private static let graces = Mutex<[Int32: Duration]>([:])

    /// Initializes what the signal handler reads, so that it never does so lazily inside it.
    public static func prepare() {
        _ = slots[0].load(ordering: .sequentiallyConsistent)
        _ = interrupted.load(ordering: .sequentiallyConsistent)
        _ = forwarded.load(ordering: .sequentiallyConsistent)
        _ = starting.load(ordering: .sequentiallyConsistent)
    }

    /// Starts a command that leads a process group of its own (`spawn` returns its pid, nil when
    /// it could not start) and notes the group, so that no interruption misses it: one that comes
    /// meanwhile hands over to the stopping thread, which waits for the start (`waitForStarts`),
    /// and the group gets its signal here. Once an interruption took over, nothing starts.
    static func start(grace: Duration, _ spawn: () -> Int32?) -> Int32? {
        starting.add(1, ordering: .sequentiallyConsistent)
        if interrupted.load(ordering: .sequentiallyConsistent) {
            starting.subtract(1, ordering: .sequentiallyConsistent)
            waitIfInterrupted()
        }
        defer { starting.subtract(1, ordering: .sequentiallyConsistent) }
        guard let group = spawn() else { return nil }
        add(group, grace: grace)
        // The interruption sends its signal after noting it and before looking at the groups;
        // this notes the group before looking at the signal: one of the two sees the other.
        let signal = forwarded.load(ordering: .sequentiallyConsistent)
        if signal != 0 { kill(-group, signal) }
        return group
    }

    /// Blocks until no command is between its start and its group being noted (at most a second):
    /// what the stopping thread does before it looks at the running groups.
    public static func waitForStarts() {
        for _ in 0..<1000 where starting.load(ordering: .sequentiallyConsistent) > 0 {
            usleep(1000)
        }
    }

    /// Notes a group that now runs, with how long it gets to stop once asked.
    private static func add(_ group: Int32, grace: Duration) {
        graces.withLock { $0[group] = grace }
        for index in 0..<capacity where slots[index].compareExchange(expected: 0, desired: group, ordering: .sequentiallyConsistent).exchanged {
            return
        }
    }

    /// Forgets a group whose command has ended.
    static func remove(_ group: Int32) {
        for index in 0..<capacity {
            _ = slots[index].compareExchange(expected: group, desired: 0, ordering: .sequentiallyConsistent)
        }
        graces.withLock { $0[group] = nil }
    }

    /// The groups running now, each with its grace period.
    public static func running() -> [Int32: Duration] {
        graces.withLock { $0 }
    }

    /// Takes this process over for an interruption, then sends `signal` to every running group;
    /// returns how many groups it reached, counting the commands being started (each gets the
    /// signal as its group is noted). Async-signal-safe.
    ///
    /// From then on a command that ends is never reported to its caller (`waitIfInterrupted`):
    /// its exit status would otherwise read as a failed deploy, while the run is stopping because
    /// it was told to, and ends by the signal once the interruption is recorded.
    public static func interrupt(with signal: Int32) -> Int {
        interrupted.store(true, ordering: .sequentiallyConsistent)
        forwarded.store(signal, ordering: .sequentiallyConsistent)
        return send(signal) + starting.load(ordering: .sequentiallyConsistent)
    }

    /// Sends `signal` to every running group; returns how many it reached. Async-signal-safe.
    public static func send(_ signal: Int32) -> Int {
        var reached = 0
        for index in 0..<capacity {
            let group = slots[index].load(ordering: .sequentiallyConsistent)
            if group > 0, kill(-group, signal) == 0 { reached += 1 }
        }
        return reached
    }

    /// Blocks the calling thread for good once an interruption took over (the process ends by
    /// the signal); returns at once otherwise.
    static func waitIfInterrupted() {
        guard interrupted.load(ordering: .sequentiallyConsistent) else { return }
        DispatchSemaphore(value: 0).wait()
    }

    /// How a group that was asked to stop ended, from best to worst.
    public enum Ending: String, CaseIterable, Sendable, Equatable {
        /// Every process of the group exited within the grace period.
        case exited
        /// Still running at the end of the grace period, so killed with SIGKILL.
        case killedAfterGrace = "killed_after_grace"
        /// Killed with SIGKILL before the grace period ended, because `hurry` said so (a second signal).
        case killedEarly = "killed_early"
        /// Still running even after SIGKILL (a process stuck in the kernel).
        case stillRunning = "still_running"

        /// Whether the group stopped by itself, within its grace period.
        public var stoppedWithinGrace: Bool { self == .exited }
    }

    /// Waits for each group, already sent the signal that asks it to stop, to end within its
    /// grace period. Once a group's leader (the command itself) has ended, what it left in its
    /// group gets SIGTERM: a non-interactive shell starts its background jobs ignoring SIGINT.
    /// At the end of the grace period, or as soon as `hurry` returns true, SIGKILL. Blocks the
    /// calling thread until every group has ended (or outlived SIGKILL by two seconds).
    public static func stop(_ groups: [Int32: Duration], hurry: () -> Bool = { false }) -> [Int32: Ending] {
        let clock = ContinuousClock()
        let start = clock.now
        var endings: [Int32: Ending] = [:]
        var terminated: Set<Int32> = []
        var killed: [Int32: (at: ContinuousClock.Instant, ending: Ending)] = [:]
        while endings.count < groups.count {
            for (group, grace) in groups where endings[group] == nil {
                let over = killed[group] == nil && clock.now - start >= grace
                let stale = killed[group].map { clock.now - $0.at > .seconds(2) } ?? false
                // The kernel says when a group is empty, at the cost of one system call; /proc, read
                // whole, only when it matters whether what is left are zombies (a leader that waits
                // for its reaper), so a long grace period does not keep a core busy.
                let gone = !exists(group) || ((over || stale) && members(of: group).isEmpty)
                if killed[group] == nil, hurry() {
                    // Asked after looking: whoever hurries may have killed the group meanwhile (the
                    // signal handler does, at a second signal), so a group gone by now was killed.
                    kill(-group, SIGKILL)
                    killed[group] = (clock.now, .killedEarly)
                } else if over, !gone {
                    kill(-group, SIGKILL)
                    killed[group] = (clock.now, .killedAfterGrace)
                }
                if gone {
                    endings[group] = killed[group]?.ending ?? .exited
                } else if stale {
                    endings[group] = .stillRunning
                } else if killed[group] == nil, !terminated.contains(group),
                    status(of: group).map({ $0.state == "Z" || $0.group != group }) ?? true
                {
                    kill(-group, SIGTERM)
                    terminated.insert(group)
                }
            }
            if endings.count < groups.count { usleep(20_000) }
        }
        return endings
    }

    /// Whether any process, a zombie included, is still in `group`.
    static func exists(_ group: Int32) -> Bool {
        !(kill(-group, 0) != 0 && errno == ESRCH)
    }

    /// The processes of `group` still running (not zombies, which only wait to be reaped).
    public static func members(of group: Int32) -> [Int32] {
        guard exists(group) else { return [] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let status = status(of: pid) else { return false }
            return status.group == group && status.state != "Z"
        }
    }

    /// A process's state letter and process group, from /proc (nil once it is gone).
    static func status(of pid: Int32) -> (state: Character, group: Int32)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state, ppid, pgrp, …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let group = Int32(fields[2]) else { return nil }
        return (state, group)
    }
}
