import ReleaseCore
import Testing

private func reader(_ value: ConfigValue, path: String = "environments.main.gates.soak") -> ConfigReader {
    ConfigReader(file: "release.yml", path: path, value: value)
}

private func message(_ body: () throws -> Any) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as ReleaseError {
        return error.message
    } catch {
        return "\(error)"
    }
}

@Suite("ConfigReader")
struct ConfigReaderTests {
    @Test("errors name file, line and key path; the root has no path")
    func errorFormat() {
        #expect(reader(.scalar("x", line: 7)).error("expected y.") == .usage("release.yml:7: environments.main.gates.soak: expected y."))
        #expect(reader(.scalar("x", line: 3), path: "").error("expected y.") == .usage("release.yml:3: expected y."))
        #expect(reader(.scalar("x", line: 1)).error("e").code == .usage)
    }

    @Test("string(): non-empty text without control characters")
    func strings() throws {
        #expect(try reader(.scalar("crm-api", line: 1)).string() == "crm-api")
        #expect(try reader(.scalar("tab\tok", line: 1)).string() == "tab\tok")
        #expect(message { try reader(.scalar("", line: 4)).string() } == "release.yml:4: environments.main.gates.soak: must not be empty.")
        #expect(
            message { try reader(.scalar("a\nb", line: 4)).string() }
                == "release.yml:4: environments.main.gates.soak: must not contain control characters.")
        #expect(message { try reader(.sequence([], line: 4)).string() } == "release.yml:4: environments.main.gates.soak: expected a text value.")
        #expect(message { try reader(.null(line: 4)).string() } == "release.yml:4: environments.main.gates.soak: expected a text value.")
    }

    @Test(
        "integer(in:) checks the range and says it",
        arguments: [
            ("0", 0...20, "0"), ("20", 0...20, "20"), ("21", 0...20, "found 21."), ("-1", 0...20, "found -1."), ("1.5", 0...20, "from 0 to 20."),
            ("ten", 0...20, "from 0 to 20."), ("", 0...20, "from 0 to 20."),
        ] as [(String, ClosedRange<Int>, String)])
    func integers(text: String, range: ClosedRange<Int>, outcome: String) {
        let result = Result { try reader(.scalar(text, line: 2)).integer(in: range) }
        if case let .success(number) = result {
            #expect(String(number) == outcome)
        } else {
            let text = message { try result.get() } ?? ""
            #expect(text.hasPrefix("release.yml:2: environments.main.gates.soak: expected a whole number from 0 to 20"), "\(text)")
            #expect(text.hasSuffix(outcome), "\(text)")
        }
    }

    @Test("timeSpan(): positive by default, zero allowed when asked")
    func timeSpans() throws {
        #expect(try reader(.scalar("1h30m", line: 1)).timeSpan() == .minutes(90))
        #expect(try reader(.scalar("0s", line: 1)).timeSpan(positive: false) == .zero)
        #expect(
            message { try reader(.scalar("0s", line: 9)).timeSpan() }
                == "release.yml:9: environments.main.gates.soak: expected a duration greater than zero.")
        #expect(
            message { try reader(.sequence([], line: 9)).timeSpan() }
                == "release.yml:9: environments.main.gates.soak: expected a duration such as 500ms, 30s, 5m, 2h or 1d, found a list.")
        #expect(message { try reader(.mapping([], line: 9)).timeSpan() }?.hasSuffix("found a mapping.") == true)
        #expect(message { try reader(.null(line: 9)).timeSpan() }?.hasSuffix("found nothing.") == true)
    }

    @Test("timestamp(): RFC 3339 or an error quoting what was found")
    func timestamps() throws {
        #expect(try reader(.scalar("2026-12-24T00:00:00Z", line: 1)).timestamp() == (try instant("2026-12-24T00:00:00Z")))
        #expect(
            message { try reader(.scalar("Dec 24", line: 5)).timestamp() }
                == "release.yml:5: environments.main.gates.soak: expected an RFC 3339 time such as 2026-12-24T00:00:00Z, found 'Dec 24'.")
    }

    @Test("stringList(): a list, or a single string as a list of one")
    func stringLists() throws {
        #expect(try reader(.scalar("tests", line: 1)).stringList() == ["tests"])
        #expect(try reader(.sequence([.scalar("tests", line: 1), .scalar("lint", line: 1)], line: 1)).stringList() == ["tests", "lint"])
        #expect(try reader(.sequence([], line: 1)).stringList() == [])
        // An empty item is reported at the item's own path.
        #expect(
            message { try reader(.sequence([.scalar("tests", line: 1), .scalar("", line: 2)], line: 1), path: "checks").stringList() }
                == "release.yml:2: checks[1]: must not be empty.")
    }

    @Test("sequence(): items get indexed paths")
    func sequences() throws {
        let items = try reader(.sequence([.scalar("a", line: 3), .scalar("b", line: 4)], line: 3), path: "freeze").sequence()
        #expect(items.map(\.path) == ["freeze[0]", "freeze[1]"])
        #expect(try items.map { try $0.string() } == ["a", "b"])
        #expect(message { try reader(.scalar("a", line: 3), path: "freeze").sequence() } == "release.yml:3: freeze: expected a list.")
    }

    @Test("mapping(allowed:): entries in order, unknown keys refused at their own line, null values treated as absent")
    func mappings() throws {
        let value = ConfigValue.mapping(
            [
                (key: "url", value: .scalar("http://x/", line: 2), line: 2),
                (key: "expect_body", value: .null(line: 3), line: 3),
            ], line: 2)
        let entries = try reader(value, path: "health").mapping(allowed: ["url", "expect_body", "timeout"])
        #expect(try entries["url"]?.string() == "http://x/")
        #expect(entries["url"]?.path == "health.url")
        #expect(entries["expect_body"] == nil)
        #expect(entries["timeout"] == nil)
        #expect(message { try entries.required("timeout", "a duration") } == "release.yml:2: health: missing key 'timeout': a duration.")
        #expect(message { try entries.required("expect_body", "a substring") } == "release.yml:2: health: missing key 'expect_body': a substring.")
        #expect(
            message { try reader(value, path: "health").mapping(allowed: ["url"]) }
                == "release.yml:3: health.expect_body: unknown key 'expect_body'; expected one of url.")
        #expect(
            message { try reader(value, path: "").mapping(allowed: ["url"]) }
                == "release.yml:3: expect_body: unknown key 'expect_body'; expected one of url.")
        #expect(
            message { try reader(.scalar("x", line: 5), path: "health").mapping(allowed: ["url", "timeout"]) }
                == "release.yml:5: health: expected a mapping of url, timeout.")
    }

    @Test("namedMapping(): user-chosen keys, in file order")
    func namedMappings() throws {
        let value = ConfigValue.mapping(
            [
                (key: "zeta", value: .scalar("1", line: 2), line: 2),
                (key: "alpha", value: .scalar("2", line: 3), line: 3),
            ], line: 2)
        let named = try reader(value, path: "environments").namedMapping()
        #expect(named.map(\.0) == ["zeta", "alpha"])
        #expect(named.map(\.1.path) == ["environments.zeta", "environments.alpha"])
        #expect(
            message { try reader(.sequence([], line: 2), path: "environments").namedMapping() }
                == "release.yml:2: environments: expected a mapping of names to settings.")
    }

    @Test("isNull is true only for null")
    func isNull() {
        #expect(reader(.null(line: 1)).isNull)
        #expect(!reader(.scalar("", line: 1)).isNull)
        #expect(!reader(.scalar("null", line: 1)).isNull)
        #expect(!reader(.mapping([], line: 1)).isNull)
    }
}
