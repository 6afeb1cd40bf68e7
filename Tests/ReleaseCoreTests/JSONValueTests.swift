import Foundation
import ReleaseCore
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test("parses every kind of value")
    func parsesKinds() throws {
        let value = try #require(
            JSONValue(
                parsing: #"""
                     {"null": null, "yes": true, "no": false, "int": -42, "big": 9223372036854775807, "double": 1.5,
                      "exp": 2e3, "text": "hi", "list": [1, [], {}], "nested": {"a": {"b": [null]}}}
                    """#))
        #expect(value["null"] == .null)
        #expect(value["yes"] == .bool(true))
        #expect(value["no"] == .bool(false))
        #expect(value["int"] == .int(-42))
        #expect(value["big"] == .int(Int64.max))
        #expect(value["double"] == .double(1.5))
        #expect(value["exp"] == .double(2000))
        #expect(value["text"]?.stringValue == "hi")
        #expect(value["list"] == .array([.int(1), .array([]), .object([])]))
        #expect(value["nested"]?["a"]?["b"] == .array([.null]))
        #expect(value["missing"] == nil)
    }

    @Test(
        "compact text round trips exactly",
        arguments: [
            #"{"id":1,"at":"2026-03-01T14:00:00.000000Z","details":{"reason":"incident","tags":["a","b"]},"ok":true,"none":null}"#,
            #"[1,-2,3.25,"x",[],{},[[]],false]"#,
            #""just a string""#,
            "0", "-0.5", "1e+20", "null", "true",
            #"{"z":1,"a":2,"m":{"y":1,"b":2}}"#,
            #"{"q":"\"quoted\" and \\ backslash","c":"\u0000\u001f\n\t\r","u":"zoë ☃ 𝄞"}"#,
        ])
    func roundTrip(text: String) throws {
        let value = try #require(JSONValue(parsing: text), "\(text)")
        #expect(value.text == text)
        #expect(JSONValue(parsing: value.text) == value)
        #expect(JSONValue(parsing: value.prettyText) == value)
    }

    @Test("object keys keep the order they were written or built in")
    func keyOrder() throws {
        let parsed = try #require(JSONValue(parsing: #"{"zeta": 1, "alpha": 2, "mid": 3}"#))
        guard case let .object(pairs) = parsed else {
            Issue.record("expected an object")
            return
        }
        #expect(pairs.map(\.0) == ["zeta", "alpha", "mid"])
        let built = JSONValue.object([("version", .string("1.4.2")), ("since", .null), ("by", .string("alice"))])
        #expect(built.text == #"{"version":"1.4.2","since":null,"by":"alice"}"#)
        // Order matters for equality too: the output is the interface.
        #expect(JSONValue.object([("a", .int(1)), ("b", .int(2))]) != .object([("b", .int(2)), ("a", .int(1))]))
    }

    @Test(
        "strings are escaped so any text survives",
        arguments: [
            ("\"", #""\"""#),
            ("\\", #""\\""#),
            ("a\nb", #""a\nb""#),
            ("\r\t", #""\r\t""#),
            ("\u{0}", #""\u0000""#),
            ("\u{1}\u{1f}", #""\u0001\u001f""#),
            ("\u{7f}", #""\u007f""#),
            ("\u{8}\u{c}", #""\u0008\u000c""#),
            ("\u{2028}\u{2029}", #""\u2028\u2029""#),
            ("/", #""/""#),
            ("zoë ☃", "\"zoë ☃\""),
            ("𝄞", "\"𝄞\""),
            ("</script>", #""</script>""#),
        ])
    func escapes(raw: String, encoded: String) {
        #expect(JSONValue.string(raw).text == encoded)
        #expect(JSONValue(parsing: encoded) == .string(raw))
    }

    @Test(
        "escape sequences in input decode, including surrogate pairs",
        arguments: [
            (#""\u0041\u00e9\u2603""#, "Aé☃"),
            (#""\ud834\udd1e""#, "𝄞"),
            (#""\uD834\uDD1E""#, "𝄞"),
            (#""\/\b\f""#, "/\u{8}\u{c}"),
            (#""a\"b\\c""#, "a\"b\\c"),
            (#""\ud83d\ude00 ok""#, "😀 ok"),
        ])
    func decodesEscapes(text: String, expected: String) {
        #expect(JSONValue(parsing: text)?.stringValue == expected, "\(text)")
    }

    @Test(
        "invalid JSON is rejected",
        arguments: [
            "", " ", "[1,]", #"{"a":1,}"#, "[,1]", #"{"a" 1}"#, #"{a:1}"#, #"{'a':1}"#, "'x'",
            #""unterminated"#, #"["unterminated]"#, #""bad \x escape""#, #""\u12""#, #""\u12G4""#,
            #""\ud800""#, #""\ud800x""#, #""\ud800\u0041""#, #""\udc00""#, #""\udc00\ud800""#,
            "\"raw\nnewline\"", "\"raw\ttab\"",
            "tru", "nul", "True", "NaN", "Infinity", "-", "1.", ".5", "+1", "1e", "0x10", "--1",
            "[1] [2]", "{} x", "[1", "{", "}", "]", #"{"a":}"#, "[1 2]", "//c\n1", "/* c */ 1",
        ])
    func rejects(text: String) {
        #expect(JSONValue(parsing: text) == nil, "'\(text)' must be rejected")
    }

    @Test("invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        #expect(JSONValue(parsing: [UInt8]([0x22, 0xFF, 0x22])) == nil)
        #expect(JSONValue(parsing: [UInt8]([0x22, 0xC3, 0x22])) == nil)
        #expect(JSONValue(parsing: [UInt8]([0x22, 0xC3, 0xA9, 0x22])) == .string("é"))
        #expect(JSONValue(parsing: Data(#"{"a":[1]}"#.utf8)) == .object([("a", .array([.int(1)]))]))
    }

    @Test("whitespace around values is allowed")
    func whitespace() {
        #expect(JSONValue(parsing: " \t\r\n{ \"a\" : [ 1 , 2 ] }\n ") == .object([("a", .array([.int(1), .int(2)]))]))
    }

    @Test("numbers: integers stay exact, others become doubles")
    func numbers() {
        #expect(JSONValue(parsing: "9223372036854775807") == .int(.max))
        #expect(JSONValue(parsing: "-9223372036854775808") == .int(.min))
        #expect(JSONValue(parsing: "9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(JSONValue(parsing: "1.0") == .double(1))
        #expect(JSONValue(parsing: "1.0")?.intValue == 1)
        #expect(JSONValue(parsing: "1.5")?.intValue == nil)
        #expect(JSONValue(parsing: "-0") == .int(0))
        #expect(JSONValue(parsing: "1E2") == .double(100))
        #expect(JSONValue(parsing: "1e-2") == .double(0.01))
        #expect(JSONValue.double(.infinity).text == "null")
        #expect(JSONValue.double(.nan).text == "null")
    }

    @Test("deeply nested input is refused rather than crashing")
    func depthLimit() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(JSONValue(parsing: deep) == nil)
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONValue(parsing: fine) != nil)
    }

    @Test("prettyText indents by two spaces and keeps order")
    func pretty() {
        let value = JSONValue.object([
            ("gates", .array([.object([("name", .string("soak")), ("passed", .bool(false))])])),
            ("empty", .object([])), ("none", .array([])),
        ])
        #expect(
            value.prettyText == """
                {
                  "gates": [
                    {
                      "name": "soak",
                      "passed": false
                    }
                  ],
                  "empty": {},
                  "none": []
                }
                """)
    }

    @Test("accessors return values of their own kind only")
    func accessors() {
        #expect(JSONValue.string("x").stringValue == "x")
        #expect(JSONValue.int(3).stringValue == nil)
        #expect(JSONValue.int(3).intValue == 3)
        #expect(JSONValue.string("3").intValue == nil)
        #expect(JSONValue.array([.null]).arrayValue == [.null])
        #expect(JSONValue.object([]).arrayValue == nil)
        #expect(JSONValue.array([])["key"] == nil)
        #expect(JSONValue.optional(nil) == .null)
        #expect(JSONValue.optional("v") == .string("v"))
    }

    @Test("a duplicate key keeps both entries in order; lookup finds the first")
    func duplicateKeys() throws {
        let value = try #require(JSONValue(parsing: #"{"a":1,"a":2}"#))
        #expect(value.text == #"{"a":1,"a":2}"#)
        #expect(value["a"] == .int(1))
    }

    @Test(
        "numbers JSON does not allow, or that no Double holds, are refused (found by fuzzing)",
        arguments: [
            "02", "[1,02]", "-01", "1e999", "[20e900]", "-1e400",
        ])
    func refusedNumbers(text: String) {
        #expect(JSONValue(parsing: text) == nil, "\(text)")
    }

    @Test("zero, negative zero and big exponents that fit still parse and round trip", arguments: ["0", "-0.0", "0.5", "2e30", "[0,10,1e-300]"])
    func acceptedNumbers(text: String) throws {
        let value = try #require(JSONValue(parsing: text))
        #expect(JSONValue(parsing: value.text) == value)
    }
}
