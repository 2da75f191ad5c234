import Testing
@testable import Events
import TickfoldTesting

@Suite("RFC 8785 canonical JSON", .onTestThreads)
struct CanonicalJSONTests {
    static let numberTable: [(UInt64, String)] = [
        (0x0000_0000_0000_0000, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"),
        (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
        (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0xc340_0000_0000_0000, "-9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
        (0x44b5_2d02_c7e1_4af6, "1e+23"),
        (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
        (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
        (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
        (0x444b_1ae4_d6e2_ef50, "1e+21"),
        (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
        (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
        (0x41b3_de43_5555_5553, "333333333.3333332"),
        (0x41b3_de43_5555_5554, "333333333.33333325"),
        (0x41b3_de43_5555_5555, "333333333.3333333"),
        (0x41b3_de43_5555_5556, "333333333.3333334"),
        (0x41b3_de43_5555_5557, "333333333.33333343"),
        (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
        (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
    ]

    @Test("Appendix B: every IEEE-754 sample serializes like ECMAScript", arguments: numberTable)
    func appendixB(bits: UInt64, expected: String) throws {
        let bytes = try CanonicalJSON.encode(.number(Double(bitPattern: bits)))
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        // And the text parses back to the same double.
        let back = try JSONValue.parse(Array(expected.utf8))
        #expect(back == .number(Double(bitPattern: bits)))
    }

    @Test("Appendix B: NaN and Infinity have no canonical form", arguments: [0x7fff_ffff_ffff_ffff as UInt64, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000])
    func nonFinite(bits: UInt64) {
        #expect(throws: CanonicalJSONError.self) { try CanonicalJSON.encode(.number(Double(bitPattern: bits))) }
    }

    @Test("More ECMAScript number forms: exponent thresholds and small integers")
    func exponentThresholds() throws {
        let cases: [(Double, String)] = [
            (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"), (1e-6, "0.000001"),
            (123e-20, "1.23e-18"), (-1.5, "-1.5"), (0.1, "0.1"), (100, "100"), (-0.0, "0"),
            (4.5, "4.5"), (2e-3, "0.002"), (1e30, "1e+30"), (1152921504606846976, "1152921504606847000"),
            (9007199254740991, "9007199254740991"), (-123456789, "-123456789"),
        ]
        for (value, text) in cases {
            #expect(String(decoding: try CanonicalJSON.encode(.number(value)), as: UTF8.self) == text, "\(value)")
        }
    }

    @Test("§3.2.2 example: numbers, string escapes and literals")
    func section322() throws {
        let input = #"""
        {
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }
        """#
        let expected = #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        let bytes = try CanonicalJSON.canonicalize(Array(input.utf8))
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    @Test("§3.2.3 example: keys sorted by UTF-16 code units (emoji before U+FB33)")
    func section323() throws {
        let input = #"""
        {
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }
        """#
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{FB33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        let bytes = try CanonicalJSON.canonicalize(Array(input.utf8))
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    @Test("Control characters use the short escapes or lowercase \\u00xx; DEL and U+2028 stay literal")
    func escaping() throws {
        let value: JSONValue = .string("\u{00}\u{01}\u{08}\u{09}\u{0A}\u{0B}\u{0C}\u{0D}\u{1F}\u{7F}\u{2028}\"\\/")
        let text = String(decoding: try CanonicalJSON.encode(value), as: UTF8.self)
        #expect(text == "\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\u{7F}\u{2028}\\\"\\\\/\"")
    }

    @Test("Canonical output is a fixed point: parse(canonical) re-encodes to the same bytes")
    func fixedPoint() throws {
        var samples = EventSamples(seed: 7)
        for _ in 0..<500 {
            let value = samples.value(depth: 0)
            let once = try CanonicalJSON.encode(value)
            let parsed = try JSONValue.parse(once)
            #expect(parsed == value)
            #expect(try CanonicalJSON.encode(parsed) == once)
        }
    }

    @Test("Object equality ignores member order; the writer sorts")
    func objectOrder() throws {
        let a: JSONValue = ["b": 1, "a": [true, nil]]
        let b: JSONValue = ["a": [true, nil], "b": 1]
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.description == #"{"a":[true,null],"b":1}"#)
    }

    @Test("Writer refuses an object built with a duplicate key")
    func writerDuplicate() {
        let value = JSONValue.object(JSONObject([.init("b", 1), .init("a", 2), .init("b", 3)]))
        #expect(throws: CanonicalJSONError.self) { try CanonicalJSON.encode(value) }
    }
}

@Suite("JSON parser", .onTestThreads)
struct JSONParserTests {
    func parseError(_ text: String, depth: Int = JSONValue.defaultMaximumDepth) -> JSONParseError? {
        parseError(Array(text.utf8), depth: depth)
    }

    func parseError(_ bytes: [UInt8], depth: Int = JSONValue.defaultMaximumDepth) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(bytes, maximumDepth: depth)
            return nil
        } catch {
            return error
        }
    }

    @Test("Parses every kind of value, with whitespace")
    func values() throws {
        let value = try JSONValue.parse(" { \"a\" : [ 1 , -2.5e3 , \"x\\u00e9\\ud83d\\ude00\" , true , false , null ] , \"b\" : { } } ")
        #expect(value == ["a": [1, -2500, "xé😀", true, false, nil], "b": [:]])
    }

    @Test("Errors carry the code and byte offset", arguments: [
        ("{\"a\":1,\"a\":2}", JSONParseError.Code.duplicateKey, 7),
        ("[1,2] x", .trailingData, 6),
        ("[1,]", .unexpectedByte, 3),
        ("{\"a\" 1}", .unexpectedByte, 5),
        ("[01]", .invalidNumber, 2),
        ("[1.]", .invalidNumber, 3),
        ("[-]", .invalidNumber, 2),
        ("[1e]", .invalidNumber, 3),
        ("\"\\ud800\"", .loneSurrogate, 1),
        ("\"\\udc00\"", .loneSurrogate, 1),
        ("\"\\ud800\\u0041\"", .loneSurrogate, 1),
        ("\"\\x\"", .invalidEscape, 1),
        ("\"\\u12g4\"", .invalidEscape, 5),
        ("\"a\tb\"", .controlCharacter, 2),
        ("[1e400]", .numberOutOfRange, 1),
        ("[tru]", .unexpectedByte, 4),
        ("[1", .unexpectedEnd, 2),
        ("\"abc", .unexpectedEnd, 4),
        ("", .unexpectedEnd, 0),
        ("NaN", .unexpectedByte, 0),
    ])
    func errors(text: String, code: JSONParseError.Code, offset: Int) throws {
        let error = try #require(parseError(text))
        #expect(error.code == code, "\(error)")
        #expect(error.offset == offset, "\(error)")
    }

    @Test("Invalid UTF-8 is refused: overlong, surrogate, beyond U+10FFFF, truncated, stray continuation", arguments: [
        [0x22, 0xc0, 0xaf, 0x22], [0x22, 0xe0, 0x80, 0xaf, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22],
        [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xe2, 0x82, 0x22], [0x22, 0x80, 0x22], [0x22, 0xff, 0x22],
    ] as [[UInt8]])
    func invalidUTF8(bytes: [UInt8]) throws {
        let error = try #require(parseError(bytes))
        #expect(error.code == .invalidUTF8, "\(error)")
    }

    @Test("Valid multi-byte UTF-8 passes through unchanged")
    func validUTF8() throws {
        let text = "\"한국어 €ö😀\u{10FFFF}\u{FFFD}\""
        #expect(try JSONValue.parse(Array(text.utf8)) == .string("한국어 €ö😀\u{10FFFF}\u{FFFD}"))
    }

    @Test("Nesting deeper than the limit is refused, at the limit accepted")
    func depth() throws {
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(parseError(ok, depth: 10) == nil)
        let deep = String(repeating: "[", count: 11) + String(repeating: "]", count: 11)
        #expect(parseError(deep, depth: 10)?.code == .tooDeep)
        let hostile = String(repeating: "[", count: 100_000)
        #expect(parseError(hostile)?.code == .tooDeep)
    }

    @Test("Duplicate keys are found in large objects too")
    func largeDuplicate() throws {
        let members = (0..<40).map { "\"k\($0)\":\($0)" } + ["\"k17\":0"]
        let error = try #require(parseError("{" + members.joined(separator: ",") + "}"))
        #expect(error.code == .duplicateKey)
    }

    @Test("Numbers parse to the correctly rounded double")
    func numbers() throws {
        #expect(try JSONValue.parse("0.1") == .number(0.1))
        #expect(try JSONValue.parse("-0") == .number(-0.0))
        #expect(try JSONValue.parse("9007199254740993") == .number(9007199254740992))
        #expect(try JSONValue.parse("2.2250738585072014e-308") == .number(.leastNormalMagnitude))
        #expect(try JSONValue.parse("4.9406564584124654e-324") == .number(.leastNonzeroMagnitude))
        #expect(try JSONValue.parse("1e-400") == .number(0))
        #expect(try JSONValue.parse("123456789012345") == .number(123456789012345))
    }
}
