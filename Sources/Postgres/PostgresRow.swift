/// One row of a result, with values copied out of libpq in text format.
public struct PostgresRow: Sendable {
    /// Column names, shared by every row of one result.
    public let columns: [String]
    /// The values, `nil` for SQL NULL.
    public let values: [String?]

    /// Creates a row.
    public init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    private func index(of column: String) throws -> Int {
        guard let index = columns.firstIndex(of: column) else {
            throw PostgresError(kind: .decoding, message: "The result has no column named \(column).")
        }
        return index
    }

    /// The raw text of a column, `nil` for NULL.
    public func optionalString(_ column: String) throws -> String? {
        values[try index(of: column)]
    }

    /// The text of a column that must not be NULL.
    public func string(_ column: String) throws -> String {
        guard let value = try optionalString(column) else {
            throw PostgresError(kind: .decoding, message: "Column \(column) is unexpectedly NULL.")
        }
        return value
    }

    /// A bigint column.
    public func int64(_ column: String) throws -> Int64 {
        let text = try string(column)
        guard let value = Int64(text) else {
            throw PostgresError(kind: .decoding, message: "Column \(column) is not an integer: \(text).")
        }
        return value
    }

    /// A nullable bigint column.
    public func optionalInt64(_ column: String) throws -> Int64? {
        guard let text = try optionalString(column) else { return nil }
        guard let value = Int64(text) else {
            throw PostgresError(kind: .decoding, message: "Column \(column) is not an integer: \(text).")
        }
        return value
    }

    /// An integer column.
    public func int(_ column: String) throws -> Int {
        Int(try int64(column))
    }

    /// A float8 column's value, or nil when NULL.
    public func optionalDouble(_ column: String) throws -> Double? {
        guard let text = try optionalString(column) else { return nil }
        guard let value = Double(text) ?? ["NaN": .nan, "Infinity": .infinity, "-Infinity": -.infinity][text] else {
            throw PostgresError(kind: .decoding, message: "Column \(column) is not a number: \(text).")
        }
        return value
    }

    /// A boolean column.
    public func bool(_ column: String) throws -> Bool {
        try string(column) == "t"
    }
}
