import ReleaseCore
import Testing

private func freezeConfig(_ freezeLines: String) -> String {
    """
    app: crm-api
    environments:
      main:
        provider: command
        command: {deploy: ./deploy.sh}
        gates:
          freeze:
    \(freezeLines)
    """
}

@Suite("FreezeWindow")
struct FreezeWindowTests {
    // MARK: WeeklyWindow parsing

    @Test("weekly windows parse to minutes of the week, Monday 00:00 being 0")
    func weeklyParsing() throws {
        let weekend = try #require(WeeklyWindow(parsing: "fri 16:00 - mon 08:00", timeZone: "Europe/Berlin"))
        #expect(weekend.startMinute == 4 * 1440 + 16 * 60)
        #expect(weekend.endMinute == 8 * 60)
        #expect(weekend.timeZone == "Europe/Berlin")
        let night = try #require(WeeklyWindow(parsing: "sun 22:30 - mon 01:05", timeZone: "UTC"))
        #expect(night.startMinute == 6 * 1440 + 22 * 60 + 30)
        #expect(night.endMinute == 65)
    }

    @Test(
        "weekly windows accept capitals, full day names and no spaces around the dash",
        arguments: [
            "Fri 16:00 - Mon 08:00", "FRI 16:00 - MON 08:00", "friday 16:00 - monday 08:00", "fri 16:00-mon 08:00",
            "fri 16:00 -mon 08:00",
        ])
    func weeklyParsingVariants(text: String) throws {
        let window = try #require(WeeklyWindow(parsing: text, timeZone: "UTC"), "\(text)")
        #expect(window.startMinute == 4 * 1440 + 960)
        #expect(window.endMinute == 480)
    }

    @Test(
        "malformed weekly windows are rejected",
        arguments: [
            "", "fri 16:00", "fri 16:00 - mon 08:00 - tue 09:00", "fri 16:00 - fri 16:00", "fri 24:00 - mon 08:00",
            "fri 16:60 - mon 08:00", "fry 16:00 - mon 08:00", "fri 1600 - mon 0800", "fri - mon", "16:00 - 08:00",
            "fri 16:00 - mon", "fri 16:0 - mon 08:00", "fri 16:00:00 - mon 08:00:00", "fri -1:00 - mon 08:00",
        ])
    func weeklyParsingRejects(text: String) {
        #expect(WeeklyWindow(parsing: text, timeZone: "UTC") == nil, "\(text)")
    }

    // MARK: activeEnd

    @Test("a one-off window is active in [from, until) and ends at until")
    func onceActiveEnd() throws {
        let from = try instant("2026-12-24T00:00:00Z")
        let until = try instant("2026-12-27T00:00:00Z")
        let window = FreezeWindow.once(from: from, until: until, reason: "holidays")
        #expect(window.reason == "holidays")
        #expect(window.activeEnd(at: from.adding(TimeSpan(microseconds: -1))) == nil)
        #expect(window.activeEnd(at: from) == until)
        #expect(window.activeEnd(at: until.adding(TimeSpan(microseconds: -1))) == until)
        #expect(window.activeEnd(at: until) == nil)
    }

    @Test("a weekly window repeats every week")
    func weeklyRepeats() throws {
        let window = try #require(WeeklyWindow(parsing: "sat 00:00 - sun 00:00", timeZone: "UTC"))
        let freeze = FreezeWindow.weekly(window, reason: "saturday")
        #expect(freeze.reason == "saturday")
        for week in 0..<60 {
            let saturdayNoon = try instant("2026-01-03T12:00:00Z").adding(.seconds(Int64(week) * 7 * 86_400))
            #expect(freeze.activeEnd(at: saturdayNoon) == saturdayNoon.adding(.seconds(12 * 3600)), "week \(week)")
            #expect(freeze.activeEnd(at: saturdayNoon.adding(.seconds(86_400))) == nil, "week \(week)")
        }
    }

    @Test("a weekly window works for dates before 1970")
    func weeklyBeforeEpoch() throws {
        // 1969-12-26 was a Friday.
        let window = try #require(WeeklyWindow(parsing: "fri 16:00 - mon 08:00", timeZone: "UTC"))
        #expect(window.activeEnd(at: try instant("1969-12-26T17:00:00Z")) == (try instant("1969-12-29T08:00:00Z")))
        #expect(window.activeEnd(at: try instant("1969-12-26T15:00:00Z")) == nil)
    }

    @Test("a weekly window in a zone east of UTC is evaluated in local time")
    func weeklyLocalTime() throws {
        // Asia/Tokyo is +09:00 all year: Friday 16:00 JST is Friday 07:00Z.
        let window = try #require(WeeklyWindow(parsing: "fri 16:00 - mon 08:00", timeZone: "Asia/Tokyo"))
        #expect(window.activeEnd(at: try instant("2026-06-12T06:59:59Z")) == nil)
        #expect(window.activeEnd(at: try instant("2026-06-12T07:00:00Z")) == (try instant("2026-06-14T23:00:00Z")))
        #expect(window.activeEnd(at: try instant("2026-06-14T23:00:00Z")) == nil)
    }

    @Test("a weekly window west of UTC that wraps the UTC week end")
    func weeklyWestOfUTC() throws {
        // America/New_York is -04:00 in June: Sunday 22:00 EDT is Monday 02:00Z.
        let window = try #require(WeeklyWindow(parsing: "sun 22:00 - mon 06:00", timeZone: "America/New_York"))
        #expect(window.activeEnd(at: try instant("2026-06-15T02:00:00Z")) == (try instant("2026-06-15T10:00:00Z")))
        #expect(window.activeEnd(at: try instant("2026-06-15T01:59:59Z")) == nil)
        #expect(window.activeEnd(at: try instant("2026-06-15T10:00:00Z")) == nil)
    }

    // MARK: release.yml

    @Test("freezes parse from release.yml: one-off and weekly, with UTC as the default zone")
    func parsesFromConfiguration() throws {
        let config = try configuration(
            freezeConfig(
                """
                        - {from: 2026-12-24T00:00:00Z, until: 2026-12-27T00:00:00Z, reason: holidays}
                        - {weekly: "fri 16:00 - mon 08:00", timezone: Europe/Berlin, reason: no weekend deploys}
                        - {weekly: "sat 00:00 - sun 00:00"}
                """))
        let freezes = try #require(config.environments.first).gates.freezes
        #expect(freezes.count == 3)
        #expect(
            freezes[0]
                == .once(
                    from: try instant("2026-12-24T00:00:00Z"), until: try instant("2026-12-27T00:00:00Z"),
                    reason: "holidays"))
        let berlin = try #require(WeeklyWindow(parsing: "fri 16:00 - mon 08:00", timeZone: "Europe/Berlin"))
        #expect(freezes[1] == .weekly(berlin, reason: "no weekend deploys"))
        guard case let .weekly(window, reason) = freezes[2] else {
            Issue.record("expected a weekly freeze, got \(freezes[2])")
            return
        }
        #expect(window.timeZone == "UTC")
        #expect(reason == "freeze")
    }

    @Test(
        "freeze configuration errors name the line and say what was expected",
        arguments: [
            (
                "        - {weekly: \"fri 16:00 - mon 08:00\", timezone: Mars/Olympus}",
                "release.yml:8: environments.main.gates.freeze[0].timezone: unknown time zone 'Mars/Olympus'"
            ),
            (
                "        - {weekly: \"fri 16:00 to mon 08:00\"}",
                "release.yml:8: environments.main.gates.freeze[0].weekly: expected a weekly window"
            ),
            (
                "        - {from: 2026-12-27T00:00:00Z, until: 2026-12-24T00:00:00Z}",
                "release.yml:8: environments.main.gates.freeze[0].until: must be later than `from`."
            ),
            (
                "        - {from: 2026-12-24T00:00:00Z, until: 2026-12-24T00:00:00Z}",
                "release.yml:8: environments.main.gates.freeze[0].until: must be later than `from`."
            ),
            (
                "        - {from: 2026-12-24T00:00:00Z}",
                "release.yml:8: environments.main.gates.freeze[0]: missing key 'until'"
            ),
            (
                "        - {from: 2026-12-24, until: 2026-12-32}",
                "release.yml:8: environments.main.gates.freeze[0].until: expected an RFC 3339 time"
            ),
            (
                "        - {from: 2026-12-24T00:00:00Z, until: 2026-12-25T00:00:00Z, timezone: UTC}",
                "release.yml:8: environments.main.gates.freeze[0].timezone: only weekly freezes take a time zone."
            ),
            (
                "        - {weekly: \"fri 16:00 - mon 08:00\", from: 2026-12-24T00:00:00Z}",
                "release.yml:8: environments.main.gates.freeze[0]: a freeze is either weekly or from/until, not both."
            ),
            (
                "        - {weekly: \"fri 16:00 - mon 08:00\", every: week}",
                "release.yml:8: environments.main.gates.freeze[0].every: unknown key 'every'"
            ),
            (
                "        - {reason: nothing}",
                "release.yml:8: environments.main.gates.freeze[0]: missing key 'from'"
            ),
        ])
    func configurationErrors(line: String, expected: String) {
        let message = configError(freezeConfig(line))
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("a bad freeze on a later line is reported on that line")
    func laterLine() {
        let message = configError(
            freezeConfig(
                """
                        - {from: 2026-12-24T00:00:00Z, until: 2026-12-27T00:00:00Z, reason: holidays}

                        - weekly: "fri 16:00 - mon 08:00"
                          timezone: Europe/Berln
                """))
        #expect(
            message.hasPrefix("release.yml:11: environments.main.gates.freeze[1].timezone: unknown time zone 'Europe/Berln'"),
            "\(message)")
    }
}
