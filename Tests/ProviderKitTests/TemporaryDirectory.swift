import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh folder for one test's scripts and output files, removed when the test ends.
struct TemporaryDirectory: Sendable {
    /// The folder's absolute path, with symlinks resolved (so it compares equal to `pwd -P`).
    let path: String

    /// Runs `body` with a new empty folder, then removes it.
    static func with<Result: Sendable>(_ body: (TemporaryDirectory) async throws -> Result) async throws -> Result {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path
        let path = base + "/release-providerkit-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(TemporaryDirectory(path: path))
    }

    /// The absolute path of `name` inside the folder.
    func file(_ name: String) -> String {
        path + "/" + name
    }

    /// Writes `text` to `name` (executable, so it can also be a script).
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: target)
        return target
    }

    /// The contents of `name`, or `nil` when it does not exist.
    func read(_ name: String) -> String? {
        try? String(contentsOfFile: file(name), encoding: .utf8)
    }

    /// The process id a script wrote to `name`.
    func pid(in name: String) -> pid_t? {
        read(name).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

/// Whether `pid` is a live process. A zombie (dead, waiting to be reaped by a parent that may never
/// reap it in a container) counts as gone.
func isRunning(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return errno == EPERM }
    #if os(Linux)
    if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let nameEnd = stat.lastIndex(of: ")")
    {
        let state = stat[stat.index(after: nameEnd)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }
    #endif
    return true
}

/// Waits (up to `limit`) for `pid` to be gone; returns whether it is.
func waitUntilGone(_ pid: pid_t, limit: Duration = .seconds(5)) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: limit)
    while isRunning(pid) {
        if clock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}
