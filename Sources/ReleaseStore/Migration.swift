import ReleaseCore

/// One numbered SQL file from migrations/, carried inside the binary.
public struct Migration: Sendable, Equatable {
    /// The file name, such as `0001_core_schema.sql`.
    public let name: String
    /// The SQL text.
    public let sql: String

    /// Creates a migration.
    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }

    /// The number the file name starts with.
    public var version: Int {
        Int(name.prefix(while: { $0.isNumber })) ?? 0
    }

    /// SHA-256 of the SQL, to catch a file edited after it was applied.
    public var checksum: String {
        Digest.sha256Hex(sql)
    }

    /// The newest schema version this binary knows.
    public static var latestVersion: Int {
        embedded.map(\.version).max() ?? 0
    }
}
