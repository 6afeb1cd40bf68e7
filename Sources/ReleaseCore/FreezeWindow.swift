import Foundation

/// A configured freeze: a one-off window, or a weekly one in a time zone.
public enum FreezeWindow: Sendable, Equatable {
    /// From one instant until another.
    case once(from: Timestamp, until: Timestamp, reason: String)
    /// Every week, from a weekday and time until another, in a time zone.
    case weekly(WeeklyWindow, reason: String)

    /// Why the freeze exists.
    public var reason: String {
        switch self {
        case let .once(_, _, reason), let .weekly(_, reason): reason
        }
    }

    init(reader: ConfigReader) throws {
        let entries = try reader.mapping(allowed: ["from", "until", "weekly", "timezone", "reason"])
        let reason = try entries["reason"]?.string() ?? "freeze"
        if let weeklyReader = entries["weekly"] {
            if entries["from"] != nil || entries["until"] != nil {
                throw reader.error("a freeze is either weekly or from/until, not both.")
            }
            let zoneName = try entries["timezone"]?.string() ?? "UTC"
            guard TimeZone(identifier: zoneName) != nil else {
                throw entries["timezone"]!.error("unknown time zone '\(zoneName)'; use an IANA name such as Europe/Berlin.")
            }
            guard let window = WeeklyWindow(parsing: try weeklyReader.string(), timeZone: zoneName) else {
                throw weeklyReader.error("expected a weekly window such as \"fri 16:00 - mon 08:00\".")
            }
            self = .weekly(window, reason: reason)
        } else {
            let fromReader = try entries.required("from", "the start, an RFC 3339 time (or use `weekly:`)")
            let untilReader = try entries.required("until", "the end, an RFC 3339 time")
            let from = try fromReader.timestamp()
            let until = try untilReader.timestamp()
            guard from < until else { throw untilReader.error("must be later than `from`.") }
            if entries["timezone"] != nil { throw entries["timezone"]!.error("only weekly freezes take a time zone.") }
            self = .once(from: from, until: until, reason: reason)
        }
    }

    /// If the window covers `now`, the instant it ends; otherwise `nil`.
    public func activeEnd(at now: Timestamp) -> Timestamp? {
        switch self {
        case let .once(from, until, _):
            return from <= now && now < until ? until : nil
        case let .weekly(window, _):
            return window.activeEnd(at: now)
        }
    }
}

/// A weekly window such as `fri 16:00 - mon 08:00` in an IANA time zone.
public struct WeeklyWindow: Sendable, Equatable {
    /// Minute of the week the window opens (Monday 00:00 is 0).
    public var startMinute: Int
    /// Minute of the week the window closes.
    public var endMinute: Int
    /// The IANA time zone the times are in.
    public var timeZone: String

    private static let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    private static let minutesPerWeek = 7 * 1440

    /// Parses `fri 16:00 - mon 08:00`.
    public init?(parsing text: String, timeZone: String) {
        let halves = text.split(separator: "-", omittingEmptySubsequences: false)
        guard halves.count == 2, let start = Self.minute(of: halves[0]), let end = Self.minute(of: halves[1]),
            start != end
        else { return nil }
        startMinute = start
        endMinute = end
        self.timeZone = timeZone
    }

    private static func minute(of part: Substring) -> Int? {
        let words = part.split(separator: " ")
        guard words.count == 2 else { return nil }
        let dayWord = words[0].lowercased()
        guard let day = days.firstIndex(where: { dayWord.hasPrefix($0) && $0.count >= 3 && dayWord.count <= 9 }) else { return nil }
        let clock = words[1].split(separator: ":")
        guard clock.count == 2, clock[0].count <= 2, clock[1].count == 2,
            let hour = Int(clock[0]), let minute = Int(clock[1]), (0..<24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        return day * 1440 + hour * 60 + minute
    }

    private func offsetSeconds(at instant: Timestamp) -> Int64 {
        guard let zone = TimeZone(identifier: timeZone) else { return 0 }
        let date = Date(timeIntervalSince1970: Double(instant.microseconds) / 1_000_000)
        return Int64(zone.secondsFromGMT(for: date))
    }

    private func localMinuteOfWeek(at instant: Timestamp) -> Int {
        let (weekday, minute) = instant.weekdayAndMinute(offsetSeconds: offsetSeconds(at: instant))
        return weekday * 1440 + minute
    }

    private func contains(minuteOfWeek minute: Int) -> Bool {
        startMinute < endMinute
            ? (startMinute <= minute && minute < endMinute)
            : (minute >= startMinute || minute < endMinute)
    }

    /// If `now` falls in the window, the instant it closes; otherwise `nil`.
    public func activeEnd(at now: Timestamp) -> Timestamp? {
        let minute = localMinuteOfWeek(at: now)
        guard contains(minuteOfWeek: minute) else { return nil }
        // Local wall-clock distance to the end, then corrected for an offset change (DST) on the way.
        let minutesAhead = (endMinute - minute + Self.minutesPerWeek) % Self.minutesPerWeek
        let secondsIntoMinute = (now.microseconds.floorDivided(by: 60_000_000).remainder)
        let naive = Timestamp(microseconds: now.microseconds - secondsIntoMinute + Int64(minutesAhead) * 60_000_000)
        let shift = offsetSeconds(at: naive) - offsetSeconds(at: now)
        let corrected = naive.adding(.seconds(-shift))
        return corrected > now ? corrected : naive
    }
}
