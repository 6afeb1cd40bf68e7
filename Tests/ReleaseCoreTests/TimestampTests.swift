import ReleaseCore
import Testing

@Suite("Timestamp")
struct TimestampTests {
    @Test(
        "RFC 3339 and PostgreSQL forms parse to the exact microsecond",
        arguments: [
            ("1970-01-01T00:00:00Z", Int64(0)),
            ("2026-03-01T14:00:00Z", 1_772_373_600_000_000),
            ("2026-03-01t14:00:00z", 1_772_373_600_000_000),
            ("2026-03-01T15:00:00+01:00", 1_772_373_600_000_000),
            ("2026-03-01T09:30:00-04:30", 1_772_373_600_000_000),
            ("2026-03-01T14:00:00+00:00", 1_772_373_600_000_000),
            ("2026-03-01T14:00:00-00:00", 1_772_373_600_000_000),
            ("2026-03-01T15:00:00+0100", 1_772_373_600_000_000),
            ("2026-03-01T15:00:00+01", 1_772_373_600_000_000),
            ("2026-03-01 14:00:00Z", 1_772_373_600_000_000),
            ("2026-03-01", 1_772_323_200_000_000),
            ("2026-03-01T14:00:00.5Z", 1_772_373_600_500_000),
            ("2026-03-01T14:00:00.25+01:00", 1_772_370_000_250_000),
            ("2026-03-01T14:00:00.000001Z", 1_772_373_600_000_001),
            ("2026-03-01T14:00:00.123456Z", 1_772_373_600_123_456),
            ("2026-03-01T14:00:00.012Z", 1_772_373_600_012_000),
            ("2026-11-24 21:34:11.48644+00", 1_795_556_051_486_440),
            ("2026-11-24 21:34:11+00", 1_795_556_051_000_000),
            ("2026-11-24 22:34:11.48644+01", 1_795_556_051_486_440),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
            ("2000-02-29T00:00:00Z", 951_782_400_000_000),
            ("1969-12-31T23:59:59Z", -1_000_000),
            ("1969-12-31T23:59:59.999999Z", -1),
            ("1969-12-31T23:59:59.5Z", -500_000),
            ("1900-01-01T00:00:00Z", -2_208_988_800_000_000),
            ("0001-01-01T00:00:00Z", -62_135_596_800_000_000),
            ("9999-12-31T23:59:59.999999Z", 253_402_300_799_999_999),
        ])
    func parses(text: String, microseconds: Int64) {
        #expect(Timestamp(parsing: text)?.microseconds == microseconds, "\(text)")
    }

    @Test(
        "invalid times are rejected",
        arguments: [
            "", " ", "garbage", "now", "2026", "2026-03", "26-03-01", "2026-3-1", "2026/03/01",
            "2026-02-30", "2026-02-29", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01", "2026-00-10",
            "2026-03-00", "2026-03-32",
            "2026-03-01T24:00:00Z", "2026-03-01T23:60:00Z", "2026-03-01T23:59:60Z",
            "2026-03-01T14:00:00", "2026-03-01T14:00Z", "2026-03-01T14Z", "2026-03-01T",
            "2026-03-01T14:00:00.Z", "2026-03-01T14:00:00.1234567Z", "2026-03-01T14:00:00.123456789Z",
            "2026-03-01T14:00:00+24:00", "2026-03-01T14:00:00+01:60", "2026-03-01T14:00:00+1", "2026-03-01T14:00:00+01:",
            "2026-03-01T14:00:00Zjunk", "2026-03-01T14:00:00Z ", " 2026-03-01T14:00:00Z", "2026-03-01x",
            "2026-03-01T14:00:00UTC", "+2026-03-01T14:00:00Z", "-2026-03-01", "2026-03-01T14:00:00,5Z",
            "２０２６-03-01",
        ])
    func rejects(text: String) {
        #expect(Timestamp(parsing: text) == nil, "'\(text)' must not parse")
    }

    @Test(
        "formatting is always YYYY-MM-DDTHH:MM:SS.ffffffZ in UTC",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00.000000Z"),
            (1, "1970-01-01T00:00:00.000001Z"),
            (-1, "1969-12-31T23:59:59.999999Z"),
            (-500_000, "1969-12-31T23:59:59.500000Z"),
            (-86_400_000_000, "1969-12-31T00:00:00.000000Z"),
            (-2_208_988_800_000_000, "1900-01-01T00:00:00.000000Z"),
            (-62_135_596_800_000_000, "0001-01-01T00:00:00.000000Z"),
            (1_772_373_600_000_000, "2026-03-01T14:00:00.000000Z"),
            (1_795_556_051_486_440, "2026-11-24T21:34:11.486440Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00.000000Z"),
            (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"),
        ])
    func formats(microseconds: Int64, text: String) {
        let timestamp = Timestamp(microseconds: microseconds)
        #expect(timestamp.rfc3339 == text)
        #expect(timestamp.description == text)
        #expect("\(timestamp)" == text)
    }

    @Test(
        "any instant survives a format and parse round trip exactly",
        arguments: [
            Int64(0), 1, -1, 999_999, 1_000_000, 1_772_373_600_123_456, -2_208_988_800_000_001, 4_102_444_799_999_999,
            -62_135_596_800_000_000, 253_402_300_799_999_999, 1_709_164_799_999_999, 1_709_164_800_000_000,
        ])
    func roundTrip(microseconds: Int64) {
        let timestamp = Timestamp(microseconds: microseconds)
        #expect(Timestamp(parsing: timestamp.rfc3339) == timestamp, "\(timestamp)")
    }

    @Test("round trip over many instants from 1589 to 2350 at odd times of day and microseconds")
    func roundTripSweep() {
        // A prime step visits every time of day and every microsecond digit pattern.
        var micros: Int64 = -12_000_000_000_000_000
        let step: Int64 = 86_399_999_999 * 37 + 7
        var failures: [Int64] = []
        while micros < 12_000_000_000_000_000 {
            let timestamp = Timestamp(microseconds: micros)
            if Timestamp(parsing: timestamp.rfc3339) != timestamp { failures.append(micros) }
            micros += step
        }
        #expect(failures.isEmpty, "first failures: \(failures.prefix(5))")
    }

    @Test("parsing then formatting normalizes offsets and fractions to UTC microseconds")
    func normalizes() throws {
        #expect(try instant("2026-03-01T15:00:00.25+01:00").rfc3339 == "2026-03-01T14:00:00.250000Z")
        #expect(try instant("2026-01-01T00:30:00+01:00").rfc3339 == "2025-12-31T23:30:00.000000Z")
        #expect(try instant("2026-03-01").rfc3339 == "2026-03-01T00:00:00.000000Z")
        #expect(try instant("2026-11-24 21:34:11.48644+00").rfc3339 == "2026-11-24T21:34:11.486440Z")
    }

    @Test("a microsecond apart is a different, ordered instant")
    func microsecondExactness() throws {
        let cutover = try instant("2026-03-01T14:00:00.000000Z")
        let before = try instant("2026-03-01T13:59:59.999999Z")
        #expect(before < cutover)
        #expect(before != cutover)
        #expect(cutover.since(before) == TimeSpan(microseconds: 1))
        #expect(before.adding(TimeSpan(microseconds: 1)) == cutover)
        // Far from the epoch a Double could not tell these apart; Timestamp must.
        let far = try instant("9999-12-31T23:59:59.999998Z")
        #expect(far < (try instant("9999-12-31T23:59:59.999999Z")))
    }

    @Test("arithmetic with spans is exact in both directions")
    func arithmetic() throws {
        let start = try instant("2026-03-01T14:00:00Z")
        #expect(start.adding(.minutes(30)) == (try instant("2026-03-01T14:30:00Z")))
        #expect(start.adding(.seconds(-86_400)) == (try instant("2026-02-28T14:00:00Z")))
        #expect(try instant("2026-03-01T16:30:00.5Z").since(start) == TimeSpan(microseconds: 9_000_500_000))
        #expect(start.since(try instant("2026-03-01T16:30:00Z")) == .minutes(-150))
        #expect(Timestamp(seconds: 1_772_373_600) == start)
    }

    @Test("timestamps sort chronologically, including before 1970")
    func ordering() throws {
        let texts = ["2026-03-01T14:00:00Z", "1969-07-20T20:17:40Z", "2026-03-01T13:59:59.999999Z", "1900-01-01", "2026-03-01 14:00:00.000001+00"]
        let sorted = try texts.map { try instant($0) }.sorted().map(\.rfc3339)
        #expect(
            sorted == [
                "1900-01-01T00:00:00.000000Z", "1969-07-20T20:17:40.000000Z", "2026-03-01T13:59:59.999999Z",
                "2026-03-01T14:00:00.000000Z", "2026-03-01T14:00:00.000001Z",
            ])
    }
}
