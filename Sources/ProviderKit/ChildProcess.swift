import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program in its own process group, streams its output, and kills the whole group on
/// timeout. While it runs, its group is in `ProcessGroups`, so an interrupted `release` stops it
/// too. Blocking waits happen on dispatch threads, never on the cooperative pool.
public struct ChildProcess: Sendable {
    /// How a run ended.
    public struct Termination: Sendable, Equatable {
        /// The exit status, or 128 + signal when killed.
        public var status: Int32
        /// Whether the timeout killed it.
        public var timedOut: Bool
        /// The last lines of combined stdout and stderr.
        public var tail: [String]
    }

    /// The program and its arguments.
    public var arguments: [String]
    /// The complete environment for the child.
    public var environment: [String: String]
    /// The working directory, if not ours.
    public var workingDirectory: String?
    /// How long it may run.
    public var timeout: Duration
    /// How long it gets to stop once asked (SIGTERM at the timeout, or the signal that interrupted
    /// `release`) before its whole group is killed with SIGKILL.
    public var stopTimeout: Duration = .seconds(10)
    /// How many trailing lines to keep for error messages.
    public var tailLines = 20
    /// A file whose contents are the child's standard input (nil: /dev/null). A file, not a pipe,
    /// so that a child that stops reading can neither block nor SIGPIPE us.
    public var inputFile: String?

    /// Creates a description of a child process.
    public init(arguments: [String], environment: [String: String], workingDirectory: String? = nil, timeout: Duration) {
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
    }

    /// Starts the process, calls `onStart` with its pid, passes each output line to `onLine`, and
    /// returns when it has exited (or been killed at the timeout).
    public func run(
        onStart: @escaping @Sendable (Int32) async -> Void = { _ in },
        onLine: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> Termination {
        try await execute(onStart: onStart, onLine: onLine, output: nil)
    }

    /// Runs the process like `run` and returns every line of its output (standard output and
    /// error together, in order) with how it ended.
    public func runCollectingLines() async throws -> (termination: Termination, lines: [String]) {
        let lines = CollectedLines()
        let termination = try await run(onLine: { lines.append($0) })
        return (termination, lines.take())
    }

    /// What `capture` returns.
    public struct Captured: Sendable, Equatable {
        /// How it ended; `tail` holds the last lines of standard error only.
        public var termination: Termination
        /// Standard output, byte for byte: not decoded, not split into lines.
        public var output: [UInt8]
    }

    /// Runs the process like `run`, but keeps its standard output apart, as bytes (for output that
    /// is binary or NUL-separated, such as `git cat-file --batch` or `-z` listings); its standard
    /// error goes to `onLine` and the termination's tail.
    public func capture(onLine: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Captured {
        let bytes = CapturedBytes()
        let termination = try await execute(onStart: { _ in }, onLine: onLine, output: bytes)
        return Captured(termination: termination, output: bytes.take())
    }

    private func execute(
        onStart: @escaping @Sendable (Int32) async -> Void,
        onLine: @escaping @Sendable (String) -> Void,
        output: CapturedBytes?
    ) async throws -> Termination {
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw ChildProcessError("could not create a pipe") }
        let (readEnd, writeEnd) = (pipe[0], pipe[1])
        // With `output`, standard output has a pipe of its own.
        var outputPipe: [Int32] = [-1, -1]
        if output != nil, Glibc.pipe(&outputPipe) != 0 {
            close(readEnd)
            close(writeEnd)
            throw ChildProcessError("could not create a pipe")
        }
        let (outputRead, outputWrite) = (outputPipe[0], outputPipe[1])
        func closeOutputPipe() {
            if outputRead >= 0 { close(outputRead) }
            if outputWrite >= 0 { close(outputWrite) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputFile ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output == nil ? writeEnd : outputWrite, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)
        if output != nil {
            posix_spawn_file_actions_addclose(&actions, outputRead)
            posix_spawn_file_actions_addclose(&actions, outputWrite)
        }
        // Nothing else of ours leaks into the command: not the database socket, not the pipes a
        // parent gave `release` (a left-over command holding those would keep its caller waiting).
        Self.closeFrom(&actions, 3)
        var arguments = arguments
        if let workingDirectory {
            guard FileManager.default.fileExists(atPath: workingDirectory) else {
                close(readEnd)
                close(writeEnd)
                closeOutputPipe()
                throw ChildProcessError("working directory \(workingDirectory) does not exist")
            }
            if !Self.changeDirectory(&actions, workingDirectory) {
                // Without glibc's chdir action (before 2.29), a tiny shell changes directory, then execs.
                arguments = ["/bin/sh", "-c", "cd \"$1\" || exit 127; shift; exec \"$@\"", "sh", workingDirectory] + arguments
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var spawnStatus: Int32 = 0
        let started = ProcessGroups.start(grace: stopTimeout) {
            var pid: pid_t = 0
            spawnStatus = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            return spawnStatus == 0 ? pid : nil
        }
        close(writeEnd)
        if outputWrite >= 0 { close(outputWrite) }
        guard let childPID = started else {
            close(readEnd)
            if outputRead >= 0 { close(outputRead) }
            let place = workingDirectory.map { " in \($0)" } ?? ""
            throw ChildProcessError("could not start \(arguments[0])\(place): \(String(cString: strerror(spawnStatus)))")
        }
        await onStart(childPID)

        let killed = KillSwitch()
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let grace = Self.interval(stopTimeout)
        timer.schedule(deadline: .now() + Self.interval(timeout))
        timer.setEventHandler {
            killed.fire()
            kill(-childPID, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + grace) { kill(-childPID, SIGKILL) }
        }
        timer.resume()
        defer { timer.cancel() }

        let tailLimit = tailLines
        async let collected: Void = Self.collect(outputRead, into: output)
        let tail: [String] = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var lines: [String] = []
                var pending: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 16 * 1024)
                func emit(_ bytes: [UInt8]) {
                    let line = String(decoding: bytes, as: UTF8.self)
                    onLine(line)
                    lines.append(line.count > 400 ? String(line.prefix(400)) + "…" : line)
                    if lines.count > tailLimit { lines.removeFirst(lines.count - tailLimit) }
                }
                while true {
                    let count = read(readEnd, &buffer, buffer.count)
                    if count < 0, errno == EINTR { continue }
                    if count <= 0 { break }
                    for byte in buffer[0..<count] {
                        if byte == 10 {
                            emit(pending)
                            pending.removeAll(keepingCapacity: true)
                        } else {
                            pending.append(byte)
                        }
                    }
                }
                if !pending.isEmpty { emit(pending) }
                close(readEnd)
                continuation.resume(returning: lines)
            }
        }
        await collected
        let status: Int32 = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(childPID, &status, 0) < 0, errno == EINTR {}
                // Interrupted, the run ends by the signal, not by this command's exit status.
                ProcessGroups.waitIfInterrupted()
                ProcessGroups.remove(childPID)
                let exited = status & 0x7f == 0
                continuation.resume(returning: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
        }
        return Termination(status: status, timedOut: killed.fired, tail: tail)
    }
}

extension ChildProcess {
    /// Reads `descriptor` to its end into `bytes` on a dispatch thread, then closes it (nothing
    /// to do without `bytes`).
    private static func collect(_ descriptor: Int32, into bytes: CapturedBytes?) async {
        guard let bytes, descriptor >= 0 else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let count = read(descriptor, &buffer, buffer.count)
                    if count < 0, errno == EINTR { continue }
                    if count <= 0 { break }
                    bytes.append(buffer[0..<count])
                }
                close(descriptor)
                continuation.resume()
            }
        }
    }

    /// A duration for dispatch, at most 68 years.
    static func interval(_ duration: Duration) -> DispatchTimeInterval {
        let nanoseconds = max(0, duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int(min(nanoseconds, Int64(Int32.max) * 1_000_000_000)))
    }
}

/// glibc's spawn actions beyond POSIX, used when this libc has them.
extension ChildProcess {
    /// A glibc function that Swift's Glibc module does not export, looked up at run time (nil
    /// when this libc lacks it).
    private static func glibc<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), looked up once.
    private static let addCloseFrom = glibc("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self)

    static func closeFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ descriptor: Int32) {
        if let addCloseFrom { _ = addCloseFrom(actions, descriptor) }
    }

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    /// glibc's posix_spawn_file_actions_addchdir_np (2.29+): the child changes directory itself,
    /// which spares every deploy command a shell started only to `cd` (BENCHMARKS.md).
    private static let addChdir = glibc("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)

    /// Whether the child will start in `directory` (false: this libc cannot arrange it).
    static func changeDirectory(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ directory: String) -> Bool {
        guard let addChdir else { return false }
        return directory.withCString { addChdir(actions, $0) } == 0
    }
}

/// A failure to start a child process.
public struct ChildProcessError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

private final class KillSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var fired: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func fire() {
        lock.lock()
        value = true
        lock.unlock()
    }
}

/// Standard output as `ChildProcess.capture` collects it.
private final class CapturedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []

    func append(_ more: ArraySlice<UInt8>) {
        lock.lock()
        bytes.append(contentsOf: more)
        lock.unlock()
    }

    func take() -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }
}

/// Output lines as `ChildProcess.runCollectingLines` collects them.
private final class CollectedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    func take() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
