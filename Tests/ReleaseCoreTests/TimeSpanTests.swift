import ReleaseCore
import Testing

@Suite("TimeSpan")
struct TimeSpanTests {
    @Test(
        "durations in release.yml's units parse exactly",
        arguments: [
            ("500ms", Int64(500_000)),
            ("1ms", 1000),
            ("30s", 30_000_000),
            ("5m", 300_000_000),
            ("2h", 7_200_000_000),
            ("1d", 86_400_000_000),
            ("1h30m", 5_400_000_000),
            ("1d2h3m4s5ms", 93_784_005_000),
            ("90m", 5_400_000_000),
            ("0s", 0),
            ("007s", 7_000_000),
            ("2m30s", 150_000_000),
            ("1s500ms", 1_500_000),
            ("999999999999ms", 999_999_999_999_000),
        ])
    func parses(text: String, microseconds: Int64) {
        #expect(TimeSpan(parsing: text)?.microseconds == microseconds, "\(text)")
    }

    @Test(
        "malformed durations are rejected",
        arguments: [
            "", "5", "m", "5x", "-5m", "+5m", "5 m", " 5m", "5m ", "5M", "5S", "1.5h", "5min", "5sec", "5mss", "ms",
            "1h30", "h1", "5us", "1w", "1y", "５m",
            // overflow: too many digits, a product beyond Int64, a sum beyond Int64
            "1000000000000s", "99999999999999999999s", "999999999999d", "106751991d106751991d",
        ])
    func rejects(text: String) {
        #expect(TimeSpan(parsing: text) == nil, "'\(text)' must not parse")
    }

    @Test(
        "description is the shortest exact spelling",
        arguments: [
            (Int64(0), "0s"),
            (500_000, "500ms"),
            (30_000_000, "30s"),
            (300_000_000, "5m"),
            (7_200_000_000, "2h"),
            (86_400_000_000, "1d"),
            (5_400_000_000, "1h30m"),
            (93_784_005_000, "1d2h3m4s5ms"),
            (1_500_000, "1s500ms"),
            (1_500, "1ms500us"),
            (1, "1us"),
            (-300_000_000, "-5m"),
            (90_061_000_000, "1d1h1m1s"),
        ])
    func describes(microseconds: Int64, text: String) {
        #expect(TimeSpan(microseconds: microseconds).description == text)
    }

    @Test(
        "description parses back to the same span",
        arguments: [
            "500ms", "30s", "5m", "2h", "1d", "1h30m", "1d2h3m4s5ms", "0s", "3d23h59m59s999ms",
        ])
    func descriptionRoundTrip(text: String) throws {
        let span = try #require(TimeSpan(parsing: text))
        #expect(span.description == text)
        #expect(TimeSpan(parsing: span.description) == span)
    }

    @Test("non-canonical spellings describe canonically")
    func canonical() {
        #expect(TimeSpan(parsing: "90m")?.description == "1h30m")
        #expect(TimeSpan(parsing: "1000ms")?.description == "1s")
        #expect(TimeSpan(parsing: "48h")?.description == "2d")
    }

    @Test("constructors, ordering and conversions")
    func constructors() {
        #expect(TimeSpan.seconds(30) == TimeSpan(parsing: "30s"))
        #expect(TimeSpan.milliseconds(500) == TimeSpan(parsing: "500ms"))
        #expect(TimeSpan.minutes(5) == TimeSpan(parsing: "5m"))
        #expect(TimeSpan.zero.microseconds == 0)
        #expect(TimeSpan.milliseconds(999) < .seconds(1))
        #expect(TimeSpan.minutes(2).seconds == 120)
        #expect(TimeSpan.milliseconds(500).seconds == 0.5)
        #expect(TimeSpan.milliseconds(1500).duration == .milliseconds(1500))
        #expect(TimeSpan(microseconds: 1).duration == .microseconds(1))
    }
}
