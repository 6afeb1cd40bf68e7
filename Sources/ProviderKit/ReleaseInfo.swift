/// Facts about this build of `release`, for User-Agent headers and `--version`.
public enum ReleaseInfo {
    /// The version.
    public static let version = "0.1.0"
    /// The User-Agent of every request to a platform or a notification receiver.
    public static let userAgent = "release/\(version)"
}
