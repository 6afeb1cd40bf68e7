import Foundation

/// An instant with microsecond precision, the precision PostgreSQL stores.
///
/// Exact arithmetic matters here: `audit --at` must return a release at the very microsecond it
/// went live and the previous one a microsecond before, which a `Double` cannot promise.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microseconds: Int64

    /// Creates an instant from microseconds since the Unix epoch.
    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// This machine's clock now (events for people; the database's clock decides what was live).
    public static var now: Timestamp {
        Timestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1_000_000))
    }

    /// Creates an instant from whole seconds since the Unix epoch.
    public init(seconds: Int64) {
        microseconds = seconds * 1_000_000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microseconds < rhs.microseconds
    }

    /// This instant moved by a span (negative spans move it earlier).
    public func adding(_ span: TimeSpan) -> Timestamp {
        Timestamp(microseconds: microseconds + span.microseconds)
    }

    /// The span from `other` to this instant.
    public func since(_ other: Timestamp) -> TimeSpan {
        TimeSpan(microseconds: microseconds - other.microseconds)
    }

    /// RFC 3339 in UTC with microseconds: `2026-03-01T14:00:00.000000Z`.
    public var description: String { rfc3339 }

    /// RFC 3339 in UTC with microseconds: `2026-03-01T14:00:00.000000Z`.
    public var rfc3339: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        appendRFC3339(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `rfc3339`'s UTF-8 to `bytes` without building a string (`audit verify` formats
    /// millions of these).
    public func appendRFC3339(to bytes: inout [UInt8]) {
        let (days, microsOfDay) = microseconds.floorDivided(by: 86_400_000_000)
        let (year, month, day) = Civil.date(fromDays: days)
        let secondsOfDay = microsOfDay / 1_000_000
        guard (0...9999).contains(year) else {
            bytes.append(contentsOf: "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T".utf8)
            bytes.append(contentsOf: "\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2))".utf8)
            bytes.append(contentsOf: ".\(pad(microsOfDay % 1_000_000, 6))Z".utf8)
            return
        }
        func digits(_ value: Int64, _ width: Int, then separator: Unicode.Scalar) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
            bytes.append(UInt8(ascii: separator))
        }
        digits(year, 4, then: "-")
        digits(month, 2, then: "-")
        digits(day, 2, then: "T")
        digits(secondsOfDay / 3600, 2, then: ":")
        digits(secondsOfDay / 60 % 60, 2, then: ":")
        digits(secondsOfDay % 60, 2, then: ".")
        digits(microsOfDay % 1_000_000, 6, then: "Z")
    }

    /// The day of the week in UTC shifted by `offsetSeconds`: 0 is Monday … 6 is Sunday.
    func weekdayAndMinute(offsetSeconds: Int64) -> (weekday: Int, minuteOfDay: Int) {
        let local = microseconds + offsetSeconds * 1_000_000
        let (days, microsOfDay) = local.floorDivided(by: 86_400_000_000)
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let weekday = Int((days + 3).floorDivided(by: 7).remainder)
        return (weekday, Int(microsOfDay / 60_000_000))
    }

    /// Parses RFC 3339 (`2026-03-01T14:00:00Z`, `…T14:00:00.25+01:00`), a bare date
    /// (`2026-03-01`, midnight UTC), and PostgreSQL's ISO output (`2026-03-01 14:00:00.25+00`).
    public init?(parsing text: String) {
        var scanner = DigitScanner(Array(text.utf8))
        guard let year = scanner.number(digits: 4), scanner.skip("-"),
            let month = scanner.number(digits: 2), scanner.skip("-"),
            let day = scanner.number(digits: 2),
            (1...12).contains(month), day >= 1, day <= Civil.daysIn(month: month, year: year)
        else { return nil }
        let days = Civil.days(year: year, month: month, day: day)
        if scanner.atEnd {
            microseconds = days * 86_400_000_000
            return
        }
        guard scanner.skip("T") || scanner.skip("t") || scanner.skip(" "),
            let hour = scanner.number(digits: 2), scanner.skip(":"),
            let minute = scanner.number(digits: 2), scanner.skip(":"),
            let second = scanner.number(digits: 2),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var fraction: Int64 = 0
        if scanner.skip(".") {
            var count = 0
            while let digit = scanner.digit() {
                if count < 6 { fraction = fraction * 10 + Int64(digit) }
                count += 1
            }
            guard count > 0 else { return nil }
            if count > 6 { return nil }
            for _ in count..<6 { fraction *= 10 }
        }
        var offsetSeconds: Int64 = 0
        if scanner.skip("Z") || scanner.skip("z") {
        } else if let sign = scanner.sign() {
            guard let offsetHours = scanner.number(digits: 2) else { return nil }
            var offsetMinutes: Int64 = 0
            if scanner.skip(":") {
                guard let minutes = scanner.number(digits: 2) else { return nil }
                offsetMinutes = minutes
            } else if let minutes = scanner.number(digits: 2) {
                offsetMinutes = minutes
            }
            guard offsetHours < 24, offsetMinutes < 60 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard scanner.atEnd else { return nil }
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        microseconds = seconds * 1_000_000 + fraction
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

extension Int64 {
    /// Division rounding toward negative infinity, with a non-negative remainder.
    func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = self / divisor
        var remainder = self % divisor
        if remainder < 0 {
            quotient -= 1
            remainder += divisor
        }
        return (quotient, remainder)
    }
}

/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms).
enum Civil {
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func date(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

struct DigitScanner {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool { position == bytes.count }

    mutating func digit() -> Int? {
        guard position < bytes.count, bytes[position] >= 48, bytes[position] <= 57 else { return nil }
        defer { position += 1 }
        return Int(bytes[position] - 48)
    }

    mutating func number(digits: Int) -> Int64? {
        var value: Int64 = 0
        for _ in 0..<digits {
            guard let digit = digit() else { return nil }
            value = value * 10 + Int64(digit)
        }
        return value
    }

    mutating func skip(_ character: Character) -> Bool {
        guard position < bytes.count, let ascii = character.asciiValue, bytes[position] == ascii else { return false }
        position += 1
        return true
    }

    mutating func sign() -> Int64? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }
}
