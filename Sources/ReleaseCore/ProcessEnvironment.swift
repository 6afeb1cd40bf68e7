import Foundation

/// The process's environment variables, read once. Foundation's `ProcessInfo.environment` builds
/// a new dictionary of every variable at each call (about 0.36 M instructions here), and one
/// `release status` asked for it eight times: 6 % of the command's instructions (BENCHMARKS.md).
public enum ProcessEnvironment {
    public static let current: [String: String] = ProcessInfo.processInfo.environment
}
