import ReleaseCore

/// One numbered SQL file from migrations/, carried inside the binary.
public struct Migration: Sendable, Equatable {
    /// The file name, such as `0001_core_schema.sql`.
    public let name: String
    /// The SQL text.
    public let sql: String
    /// SHA-256 of the SQL, to catch a file edited after it was applied. ops/embed-migrations
    /// writes it into the binary: hashing the schema's SQL at every start was 2 % of a command.
    public let checksum: String

    /// Creates a migration; `checksum` is computed from `sql` unless given.
    public init(name: String, checksum: String? = nil, sql: String) {
        self.name = name
        self.sql = sql
        self.checksum = checksum ?? Digest.sha256Hex(sql)
    }

    /// The number the file name starts with.
    public var version: Int {
        Int(name.prefix(while: { $0.isNumber })) ?? 0
    }

    /// The newest schema version this binary knows.
    public static var latestVersion: Int {
        embedded.map(\.version).max() ?? 0
    }
}
