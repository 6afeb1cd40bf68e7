import ReleaseCore
import Testing

private func parse(_ yaml: String) throws -> ConfigValue {
    try ConfigValue.parse(yaml: yaml, file: "release.yml")
}

private func pairs(
    _ value: ConfigValue, sourceLocation: SourceLocation = #_sourceLocation
)
    -> [(key: String, value: ConfigValue, line: Int)]
{
    guard case let .mapping(pairs, _) = value else {
        Issue.record("expected a mapping, got \(value)", sourceLocation: sourceLocation)
        return []
    }
    return pairs
}

private func scalar(_ value: ConfigValue?) -> String? {
    if case let .scalar(text, _)? = value { return text }
    return nil
}

@Suite("ConfigValue")
struct ConfigValueTests {
    @Test("nodes remember their 1-based lines")
    func lines() throws {
        let root = try parse(
            """
            # a comment first
            app: crm-api

            environments:
              develop:
                provider: command
                checks:
                  - tests
                  - lint
            """)
        #expect(root.line == 2)
        let top = pairs(root)
        #expect(top.map(\.key) == ["app", "environments"])
        #expect(top.map(\.line) == [2, 4])
        #expect(top[0].value.line == 2)
        let develop = pairs(top[1].value)
        #expect(develop[0].line == 5)
        let settings = pairs(develop[0].value)
        #expect(settings.map(\.line) == [6, 7])
        guard case let .sequence(items, line) = settings[1].value else {
            Issue.record("expected a list")
            return
        }
        #expect(line == 8)
        #expect(items.map(\.line) == [8, 9])
        #expect(items.map { scalar($0) } == ["tests", "lint"])
    }

    @Test("mapping keys keep the order of the file")
    func keyOrder() throws {
        #expect(pairs(try parse("z: 1\na: 2\nm: 3\n")).map(\.key) == ["z", "a", "m"])
    }

    @Test(
        "empty values and null spellings are null; quoted ones are text",
        arguments: [
            ("key:", true), ("key: ~", true), ("key: null", true), ("key: Null", true), ("key: NULL", true),
            ("key: \"null\"", false), ("key: ''", false), ("key: 'null'", false), ("key: nil", false),
        ])
    func nulls(yaml: String, isNull: Bool) throws {
        let value = try #require(pairs(try parse(yaml)).first).value
        if case .null = value {
            #expect(isNull, "\(yaml) became null")
        } else {
            #expect(!isNull, "\(yaml) should be null, got \(value)")
        }
    }

    @Test("scalars are kept as written, without YAML 1.1 conversions")
    func scalarsAsText() throws {
        let top = pairs(try parse("a: yes\nb: 0800\nc: 1e3\nd: 2026-12-24\ne: \"quoted: text\"\nf: 30m\n"))
        #expect(top.map { scalar($0.value) } == ["yes", "0800", "1e3", "2026-12-24", "quoted: text", "30m"])
    }

    @Test("an empty document is null")
    func emptyDocument() throws {
        guard case .null = try parse("") else {
            Issue.record("an empty file must be null")
            return
        }
    }

    @Test("an alias to an anchor that does not exist is refused with its line")
    func undefinedAlias() {
        #expect(throws: ReleaseError.usage("release.yml:2: not valid YAML: found undefined alias. Fix the file and try again.")) {
            try parse("a: 1\nb: *nope\n")
        }
    }

    @Test("non-scalar keys are refused at their line")
    func complexKeys() {
        do {
            _ = try parse("a: 1\n? [x, y]\n: 2\n")
            Issue.record("a list as a key must be refused")
        } catch let error as ReleaseError {
            #expect(error.message == "release.yml:2: keys must be plain words.", "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("a duplicate key is refused, naming the key and the line where it first appears")
    func duplicates() {
        #expect(throws: ReleaseError.usage("release.yml:1: key 'app' appears more than once in the same mapping; keep one.")) {
            try parse("app: a\nenvironments: {}\napp: b\n")
        }
        #expect(throws: ReleaseError.usage("release.yml:3: keys 'a', 'b' appear more than once in the same mapping; keep one.")) {
            try parse("x:\n  b: 1\n  a: 2\n  a: 3\n  b: 4\n")
        }
    }

    @Test(
        "malformed YAML is refused with the file, the line and libyaml's problem",
        arguments: [
            ("app: [unclosed\n", "release.yml:2: not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 1)."),
            ("app: crm\n  bad: indent\n", "release.yml:2: not valid YAML: mapping values are not allowed in this context."),
            (
                "a: 1\nb: \"unterminated\n",
                "release.yml:3: not valid YAML: found unexpected end of stream (while scanning a quoted scalar at line 2)."
            ),
            (
                "a:\n\t- tab\n",
                "release.yml:2: not valid YAML: found character that cannot start any token (while scanning for the next token at line 2)."
            ),
            ("a: 1\nb: x\u{1}y\n", "release.yml:2: not valid YAML: control characters are not allowed."),
            ("a: 1\n---\nb: 2\n", "release.yml:2: not valid YAML: but found another document (expected a single document in the stream at line 1)."),
        ])
    func malformed(yaml: String, expected: String) {
        do {
            _ = try parse(yaml)
            Issue.record("\(yaml) must be refused")
        } catch let error as ReleaseError {
            #expect(error.code == .usage)
            #expect(error.message == expected + " Fix the file and try again.")
            #expect(!error.message.contains("\n"), "one line")
        } catch {
            Issue.record("\(error)")
        }
    }
}
