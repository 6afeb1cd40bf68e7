#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The last words of a run stopped by SIGINT, SIGTERM or SIGHUP (Ctrl-C, a cancelled CI job, a
/// closed terminal) while it drives a deployment: which one stays in flight and how to settle it.
/// The run still ends by that signal, as before; `release recover` finishes what it left.
///
/// The text is written ahead, whenever a deployment starts or ends, so the signal handler only
/// loads a pointer and calls write(2), both safe in a handler.
public enum InterruptNotice {
    /// The address of the current notice (0: none), a C string that is never freed (a run
    /// makes a handful).
    private static let current = Atomic<UInt>(0)

    /// Sets the notice for a deployment this run now drives; returns the one it replaces, for
    /// `restore` (an automatic rollback runs inside a failed promotion).
    static func driving(id: Int64, kind: String, version: String, environment: String) -> UInt {
        let text = "release: interrupted during deployment \(id) (\(kind) of \(version) to \(environment)), which stays in flight. Run `release recover \(environment)` to settle it.\n"
        return current.exchange(UInt(bitPattern: strdup(text)), ordering: .sequentiallyConsistent)
    }

    static func restore(_ previous: UInt) {
        current.store(previous, ordering: .sequentiallyConsistent)
    }

    /// Installs the handler for SIGINT, SIGTERM and SIGHUP: the notice, if any, then the signal's
    /// default action. A signal the run was started ignoring (`nohup`, a background job of a
    /// non-interactive shell) stays ignored.
    public static func install() {
        _ = current.load(ordering: .sequentiallyConsistent)  // initialized here, never lazily inside the handler
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            if let text = UnsafePointer<CChar>(bitPattern: InterruptNotice.current.load(ordering: .sequentiallyConsistent)) {
                _ = write(STDERR_FILENO, text, strlen(text))
            }
            // SA_RESETHAND restored the default action; the signal is blocked until this returns.
            raise(signal)
        }
        action.sa_flags = Int32(truncatingIfNeeded: SA_RESETHAND)
        sigemptyset(&action.sa_mask)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var inherited = sigaction()
            sigaction(number, nil, &inherited)
            if unsafeBitCast(inherited.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            sigaction(number, &action, nil)
        }
    }
}
