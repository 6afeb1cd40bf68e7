/// Facts about this build of `release`, for User-Agent headers and `--version`.
public enum ReleaseInfo {
    /// The version.
    public static let version = "0.1.0"
}
