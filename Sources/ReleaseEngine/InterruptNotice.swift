import Foundation
import ProviderKit
import ReleaseCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The last words of a run stopped by SIGINT, SIGTERM or SIGHUP (Ctrl-C, a cancelled CI job, a
/// closed terminal) while it drives a deployment: which one stays in flight and how to settle it.
/// The commands the run started (a deploy script, git) get the same signal; the run waits for
/// them to stop, at most their grace period, kills what is left of their process groups, records
/// on the deployment that it was interrupted and how its command ended, and still ends by the
/// signal, as before. `release recover` finishes what it left.
///
/// The handler does only what is safe in a handler: atomic loads and stores, write(2), kill(2).
/// The notice is written ahead, whenever a deployment starts or ends; the waiting, recording and
/// ending happen on a thread of this run's own that the handler wakes through a pipe. Not a
/// dispatch signal source: the commands must get the signal at once, whatever the queues are
/// doing. Not a thread in sigwait: that needs the signals blocked in every thread, those started
/// before `install` included, or the first signal to reach another thread kills the run at once.
public enum InterruptNotice {
    /// The address of the current notice (0: none), a C string that is never freed (a run
    /// makes a handful).
    private static let current = Atomic<UInt>(0)
    /// How many of SIGINT, SIGTERM and SIGHUP arrived: the first asks the commands to stop, a
    /// second kills them at once (the run still records and ends), a third ends the run at once.
    private static let received = Atomic<Int>(0)
    /// Whether the first signal handed the run over to the stopping thread.
    private static let stopping = Atomic<Bool>(false)
    /// The pipe end that wakes the stopping thread (-1 until the first deployment starts it).
    private static let wake = Atomic<Int32>(-1)
    /// Records the interruption on the deployment this run drives (the handler never reads it).
    private static let recorder = Mutex<Recorder?>(nil)

    typealias Recorder = @Sendable (Interruption) async -> Void

    /// What `driving` replaced, for `restore` (an automatic rollback runs inside a failed promotion).
    struct Driving: Sendable {
        fileprivate let notice: UInt
        fileprivate let recorder: Recorder?
    }

    /// Sets the notice, and what records an interruption, for a deployment this run now drives;
    /// returns what they replace, for `restore`.
    static func driving(_ started: StartedDeployment, engine: Engine) -> Driving {
        startStoppingThread()
        let name = started.environment.name
        let text =
            "release: interrupted during deployment \(started.id) (\(started.kind.rawValue) of \(started.release.version) to \(name)), "
            + "which stays in flight. Run `release recover \(name)` to settle it.\n"
        let record: Recorder = { interruption in await engine.recordInterruption(of: started, interruption) }
        let previous = recorder.withLock { installed in
            defer { installed = record }
            return installed
        }
        return Driving(notice: current.exchange(UInt(bitPattern: strdup(text)), ordering: .sequentiallyConsistent), recorder: previous)
    }

    static func restore(_ previous: Driving) {
        recorder.withLock { $0 = previous.recorder }
        current.store(previous.notice, ordering: .sequentiallyConsistent)
    }

    /// Installs the handler for SIGINT, SIGTERM and SIGHUP: the notice, if any, then either the
    /// signal to the running commands (the stopping thread ends the run) or the signal's default
    /// action. A signal the run was started ignoring (`nohup`, a background job of a
    /// non-interactive shell) stays ignored.
    public static func install() {
        // Initialized here, never lazily inside the handler.
        _ = current.load(ordering: .sequentiallyConsistent)
        _ = received.load(ordering: .sequentiallyConsistent)
        _ = stopping.load(ordering: .sequentiallyConsistent)
        _ = wake.load(ordering: .sequentiallyConsistent)
        ProcessGroups.prepare()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            let count = InterruptNotice.received.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
            if count == 1, let text = UnsafePointer<CChar>(bitPattern: InterruptNotice.current.load(ordering: .sequentiallyConsistent)) {
                _ = write(STDERR_FILENO, text, strlen(text))
            }
            let wake = InterruptNotice.wake.load(ordering: .sequentiallyConsistent)
            if count == 1, wake >= 0, ProcessGroups.interrupt(with: signal) > 0 {
                InterruptNotice.stopping.store(true, ordering: .sequentiallyConsistent)
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(wake, &byte, 1)
                return
            }
            if count == 2, InterruptNotice.stopping.load(ordering: .sequentiallyConsistent) {
                _ = ProcessGroups.send(SIGKILL)
                return
            }
            InterruptNotice.end(by: signal)
        }
        sigemptyset(&action.sa_mask)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var inherited = sigaction()
            sigaction(number, nil, &inherited)
            if unsafeBitCast(inherited.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            sigaction(number, &action, nil)
        }
    }

    /// Ends the run by `signal`'s default action, as if no handler had been installed.
    /// Async-signal-safe.
    private static func end(by signal: Int32) -> Never {
        var standard = sigaction()
        sigemptyset(&standard.sa_mask)
        sigaction(signal, &standard, nil)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, signal)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        raise(signal)
        _exit(128 + signal)
    }

    /// Starts, once, the thread that the handler wakes.
    private static func startStoppingThread() {
        guard wake.load(ordering: .sequentiallyConsistent) < 0 else { return }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        guard wake.compareExchange(expected: -1, desired: ends[1], ordering: .sequentiallyConsistent).exchanged else {
            for end in ends { close(end) }
            return
        }
        let readEnd = ends[0]
        Thread { stopCommands(woken: readEnd) }.start()
    }

    /// The stopping thread: waits for the handler, stops the commands, records, ends the run.
    private static func stopCommands(woken readEnd: Int32) {
        var byte: UInt8 = 0
        while read(readEnd, &byte, 1) < 0, errno == EINTR {}
        let signal = Int32(byte)
        ProcessGroups.waitForStarts()
        let groups = ProcessGroups.running()
        let endings = ProcessGroups.stop(groups) { received.load(ordering: .sequentiallyConsistent) > 1 }
        let interruption = Interruption(
            signal: signal,
            commands: endings.sorted { $0.key < $1.key }.map { group, ending in
                Interruption.Command(group: group, grace: groups[group] ?? .zero, ending: ending)
            })
        FileHandle.standardError.write(Data("release: \(interruption.detail).\n".utf8))
        if let record = recorder.withLock({ $0 }) {
            let recorded = DispatchSemaphore(value: 0)
            Task {
                await record(interruption)
                recorded.signal()
            }
            if recorded.wait(timeout: .now() + .seconds(15)) == .timedOut {
                FileHandle.standardError.write(Data("release: could not record the interruption within 15s.\n".utf8))
            }
        }
        end(by: signal)
    }

    /// What a signal did to a run and the commands it was running.
    struct Interruption: Sendable {
        /// One command's process group and how it ended.
        struct Command: Sendable {
            var group: Int32
            var grace: Duration
            var ending: ProcessGroups.Ending
        }

        /// The first signal.
        var signal: Int32
        /// The commands that were running.
        var commands: [Command]

        /// SIGINT, SIGTERM or SIGHUP.
        var signalName: String {
            switch signal {
            case SIGINT: "SIGINT"
            case SIGTERM: "SIGTERM"
            case SIGHUP: "SIGHUP"
            default: "signal \(signal)"
            }
        }

        /// The command that decides the record: the one that ended worst.
        var command: Command? {
            let order = ProcessGroups.Ending.allCases
            return commands.max { (order.firstIndex(of: $0.ending) ?? 0) < (order.firstIndex(of: $1.ending) ?? 0) }
        }

        /// One line for people: the deployment's detail and the run's last words.
        var detail: String {
            guard let command else { return "interrupted by \(signalName); its command had already ended" }
            let grace = TimeSpan(command.grace)
            let ended =
                switch command.ending {
                case .exited: "stopped within its \(grace) grace period"
                case .killedAfterGrace: "was still running after its \(grace) grace period and was killed"
                case .killedEarly: "was killed at a second signal, before its \(grace) grace period ended"
                case .stillRunning: "could not be killed (process group \(command.group))"
                }
            return "interrupted by \(signalName); its command \(ended)"
        }
    }
}
