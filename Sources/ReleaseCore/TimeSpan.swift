/// A length of time written the way release.yml writes it: `500ms`, `30s`, `5m`, `2h`, `1d`,
/// or a sum such as `1h30m`.
public struct TimeSpan: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The length in microseconds.
    public var microseconds: Int64

    /// Creates a span from microseconds.
    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// A span of whole seconds.
    public static func seconds(_ seconds: Int64) -> TimeSpan { TimeSpan(microseconds: seconds * 1_000_000) }
    /// A span of whole milliseconds.
    public static func milliseconds(_ milliseconds: Int64) -> TimeSpan { TimeSpan(microseconds: milliseconds * 1000) }
    /// A span of whole minutes.
    public static func minutes(_ minutes: Int64) -> TimeSpan { .seconds(minutes * 60) }
    /// No time at all.
    public static let zero = TimeSpan(microseconds: 0)

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.microseconds < rhs.microseconds }

    /// The span as Swift's `Duration`, for sleeping and timeouts.
    public var duration: Duration { .microseconds(microseconds) }

    /// A Swift `Duration`, to the microsecond (rounded down).
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(microseconds: seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
    }

    /// The span in (fractional) seconds.
    public var seconds: Double { Double(microseconds) / 1_000_000 }

    private static let units: [(suffix: String, microseconds: Int64)] = [
        ("ms", 1000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000), ("d", 86_400_000_000),
    ]

    /// Parses `500ms`, `30s`, `5m`, `2h`, `1d` or a sum of them (`1h30m`); `nil` when malformed.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var index = 0
        var total: Int64 = 0
        while index < bytes.count {
            var value: Int64 = 0
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                let (product, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow, digits < 12 else { return nil }
                value = product + Int64(bytes[index] - 48)
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            var unitEnd = index
            while unitEnd < bytes.count, bytes[unitEnd] >= 97, bytes[unitEnd] <= 122 { unitEnd += 1 }
            let suffix = String(decoding: bytes[index..<unitEnd], as: UTF8.self)
            guard
                let unit = Self.units.first(where: { $0.suffix == suffix })
            else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.microseconds)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            guard !sumOverflow else { return nil }
            total = sum
            index = unitEnd
        }
        microseconds = total
    }

    /// The shortest exact spelling: `1h30m`, `500ms`, `0s`.
    public var description: String {
        if microseconds == 0 { return "0s" }
        var rest = microseconds
        var parts: [String] = []
        if rest < 0 {
            parts.append("-")
            rest = -rest
        }
        for (suffix, size) in [("d", Int64(86_400_000_000)), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1000)] {
            if rest >= size {
                parts.append("\(rest / size)\(suffix)")
                rest %= size
            }
        }
        if rest > 0 { parts.append("\(rest)us") }
        return parts.joined()
    }
}
