/// A SQL statement whose interpolated values become bound parameters (`$1`, `$2`, …).
///
/// Values are never spliced into the SQL text; raw SQL must be spelled `\(unsafeSQL: …)`.
public struct PostgresQuery: ExpressibleByStringInterpolation, Sendable {
    /// The statement text with `$n` placeholders.
    public var sql: String
    /// The bound values in text format, `nil` for SQL NULL.
    public var binds: [String?]

    /// Creates a statement with explicit binds.
    public init(sql: String, binds: [String?] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        sql = value
        binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        binds = stringInterpolation.binds
    }

    /// Builds the SQL text and the bind list together.
    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql = ""
        var binds: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds a value as the next parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }

        /// Binds an optional value; `nil` becomes NULL.
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)"
        }

        /// Splices trusted SQL text (never user input).
        public mutating func appendInterpolation(unsafeSQL text: String) {
            sql += text
        }

        /// Splices another statement's text, its parameters renumbered after this one's: a
        /// subquery built apart (such as the ids of environments named in it).
        public mutating func appendInterpolation(_ fragment: PostgresQuery) {
            let offset = binds.count
            var text = Substring(fragment.sql)
            while let dollar = text.firstIndex(of: "$") {
                sql += text[..<dollar]
                let digits = text[text.index(after: dollar)...].prefix { $0.isASCII && $0.isNumber }
                if let number = Int(digits) {
                    sql += "$\(number + offset)"
                } else {
                    sql += "$"
                }
                text = text[text.index(dollar, offsetBy: 1 + digits.count)...]
            }
            sql += text
            binds += fragment.binds
        }
    }
}

/// A value that can be sent to PostgreSQL in text format.
public protocol PostgresEncodable: Sendable {
    /// The value's text representation as PostgreSQL parses it.
    var postgresText: String { get }
}

extension String: PostgresEncodable {
    public var postgresText: String { self }
}

extension Int: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int64: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Int32: PostgresEncodable {
    public var postgresText: String { String(self) }
}

extension Double: PostgresEncodable {
    /// Round-trips exactly; NaN and the infinities as PostgreSQL spells them.
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self > 0 ? "Infinity" : "-Infinity" }
        return "\(self)"
    }
}

extension Bool: PostgresEncodable {
    public var postgresText: String { self ? "t" : "f" }
}

extension Array: PostgresEncodable where Element == String {
    /// A text array literal, every element quoted and escaped.
    public var postgresText: String {
        let items = map { item -> String in
            var escaped = ""
            for character in item {
                if character == "\\" || character == "\"" { escaped.append("\\") }
                escaped.append(character)
            }
            return "\"\(escaped)\""
        }
        return "{" + items.joined(separator: ",") + "}"
    }
}

/// A read whose rows are decoded later, so several can share one round trip
/// (`PostgresConnection.fetch`).
public struct Fetch<Value>: Sendable {
    /// The statement.
    public var query: PostgresQuery
    /// Turns its rows into the value.
    public var decode: @Sendable ([PostgresRow]) throws -> Value

    /// A read and its decoder.
    public init(_ query: PostgresQuery, decode: @escaping @Sendable ([PostgresRow]) throws -> Value) {
        self.query = query
        self.decode = decode
    }

    /// The same statement, its value transformed after decoding.
    public func map<Other>(_ transform: @escaping @Sendable (Value) throws -> Other) -> Fetch<Other> {
        let decode = self.decode
        return Fetch<Other>(query) { rows in try transform(try decode(rows)) }
    }
}
