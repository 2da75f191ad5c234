import Foundation
import Testing
@testable import Events

/// Payloads read in place from canonical bytes (`init(payloadBytes:)`, which the catalogue uses
/// for events stored at the current version) against the same types read from the parsed
/// `JSONValue` tree: the same value, or the same `PayloadError` (path, detail, event type).
@Suite("Payloads read from canonical bytes agree with the JSONValue path")
struct CanonicalPayloadDecodingTests {
    typealias Direct = DirectPayloadDecodingTests

    /// Text that canonical JSON escapes or writes as multi-byte UTF-8, next to text some field
    /// types accept; numbers in exponent form, beyond exact integers, fractional; odd containers.
    static let replacements: [JSONValue] = Direct.replacements + [
        "a\"b", "back\\slash", "line\nbreak", "\u{1}\u{1f}\u{7f}", "tab\tand\r", "é", "日本語", "😀", "e\u{301}", "\u{212A}",
        "12.5\n", "-0.5\"", "2024-02-29\\", "2025-01-31T10:57:09.000Z\u{0}", "most_active\u{8}", "x\u{c}",
        "a string long enough that errors stop quoting it in full, with ünïcödé",
        1e21, 1e-7, 0.1, -1.5e-300, .number(.leastNonzeroMagnitude), 123_456_789_012, 4_294_967_296, 2.5e15, 1_000_000_000_000_000.5, 9_007_199_254_740_993, -9_007_199_254_740_992,
        [[]], [[:]], ["x", 1], [true, .null], ["é", "a\"b"], ["é": 1, "a\"b": [1, ["k": .null]]],
    ]

    /// Names of unknown members that canonical JSON escapes, writes as multi-byte UTF-8 or sorts
    /// to the edges; `\u{212A}` (Kelvin sign) is canonically equivalent to "K".
    static let oddKeys = ["", "aUnknown", "zUnknown", "é", "a\"b", "line\nkey", "\u{0}", "😀", "\u{212A}", "\u{FFFF}", "price\\"]

    /// Both paths on the canonical bytes of `json`: `init(payloadBytes:)` against `init(json:)`
    /// of the parsed bytes, and for objects the catalogue's read of an event holding them.
    @discardableResult
    static func agree(_ type: any DirectlyDecodablePayload.Type, _ json: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        func check<P: DirectlyDecodablePayload>(_ type: P.Type) -> Bool {
            let bytes: [UInt8]
            do {
                bytes = try CanonicalJSON.encode(json)
            } catch {
                Issue.record("\(json) has no canonical form: \(error)", sourceLocation: sourceLocation)
                return false
            }
            let tree = result { () throws(PayloadError) in try P(json: JSONValue(payloadBytes: bytes)) }
            let inPlace = result { () throws(PayloadError) in try P(payloadBytes: bytes) }
            #expect(inPlace == tree, "\(P.self) from \(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
            // Older versions are upcast through the tree; `benchmarkMix` reads them.
            if json.objectValue != nil, EventCatalog.standard.entry(P.type)?.currentVersion == P.version {
                do {
                    let event = try Event.make(
                        type: P.type, version: P.version, source: "test", subject: "S", occurredAt: Timestamp(millisecondsSinceEpoch: 0), payload: json)
                    let catalogued = result { () throws(PayloadError) in try EventCatalog.standard.payload(of: event, as: P.self) }
                    let expected = tree.mapError { PayloadError(path: $0.path, detail: $0.detail, type: P.type) }
                    #expect(catalogued == expected, "catalogue read of \(P.self)", sourceLocation: sourceLocation)
                } catch {
                    Issue.record("no event for \(json): \(error)", sourceLocation: sourceLocation)
                }
            }
            if case .success = tree { return true }
            return false
        }
        return check(type)
    }

    static func result<P>(_ body: () throws(PayloadError) -> P) -> Result<P, PayloadError> {
        do {
            return .success(try body())
        } catch {
            return .failure(error)
        }
    }

    /// `value` with one member of an odd name added, for every object in it and every odd name.
    static func oddKeyMutations(of value: JSONValue) -> [JSONValue] {
        var out: [JSONValue] = []
        switch value {
        case .object(let object):
            for key in oddKeys where object[key] == nil {
                out.append(.object(JSONObject(object.members + [JSONObject.Member(key, 1)])))
            }
            for index in object.members.indices {
                for nested in oddKeyMutations(of: object.members[index].value) {
                    var changed = object
                    changed.members[index].value = nested
                    out.append(.object(changed))
                }
            }
        case .array(let elements):
            for index in elements.indices {
                for nested in oddKeyMutations(of: elements[index]) {
                    var changed = elements
                    changed[index] = nested
                    out.append(.array(changed))
                }
            }
        case .null, .bool, .number, .string:
            break
        }
        return out
    }

    @Test("Generated payloads of every direct type read the same from bytes", arguments: Direct.directTypes.indices)
    func generated(typeIndex: Int) throws {
        let entry = Direct.directTypes[typeIndex]
        var samples = EventSamples(seed: 0xb17e + UInt64(typeIndex))
        for _ in 0..<300 {
            let event = try samples.event(kind: entry.sampleKind)
            #expect(Self.agree(entry.type, event.payload), "a generated \(entry.type) must decode")
        }
    }

    @Test("The codec benchmark's events (v1 bars upcast) read the same through the catalogue as from their trees")
    func benchmarkMix() throws {
        var inPlace = 0
        for event in try EventCodecBenchmark.sampleEvents(count: 3000, seed: 42) {
            let current = try EventCatalog.standard.currentPayload(of: event).payload
            for entry in Direct.directTypes where entry.type.type == event.type && entry.type.version == EventCatalog.standard.entry(event.type)?.currentVersion {
                func check<P: DirectlyDecodablePayload>(_ type: P.Type) {
                    let catalogued = Self.result { () throws(PayloadError) in try EventCatalog.standard.payload(of: event, as: P.self) }
                    #expect(catalogued == Self.result { () throws(PayloadError) in try P(json: current) })
                }
                check(entry.type)
                if event.version == entry.type.version { inPlace += 1 }
            }
        }
        #expect(inPlace > 2000)
    }

    @Test("Every single breakage, with escaped, non-ASCII and exponent-form values, reads the same", arguments: Direct.directTypes.indices)
    func brokenFields(typeIndex: Int) throws {
        let entry = Direct.directTypes[typeIndex]
        var samples = EventSamples(seed: 0xb7e5 + UInt64(typeIndex))
        var refused = 0
        var total = 0
        for _ in 0..<6 {
            let json = try samples.event(kind: entry.sampleKind).payload
            for root in Self.replacements where root.objectValue == nil {
                Self.agree(entry.type, root)
            }
            for broken in Direct.mutations(of: json, replacements: Self.replacements) + Self.oddKeyMutations(of: json) {
                total += 1
                if !Self.agree(entry.type, broken) { refused += 1 }
            }
        }
        #expect(refused * 2 > total)
    }

    @Test("Random combinations of breakages report the same first error from bytes", arguments: Direct.directTypes.indices)
    func combinedBreakages(typeIndex: Int) throws {
        let entry = Direct.directTypes[typeIndex]
        var samples = EventSamples(seed: 0xc0b2 + UInt64(typeIndex))
        var rng = SplitMix64(seed: 0xc0b3 + UInt64(typeIndex))
        for _ in 0..<100 {
            var json = try samples.event(kind: entry.sampleKind).payload
            for _ in 0..<Int.random(in: 2...4, using: &rng) {
                let candidates = (Direct.mutations(of: json, replacements: Self.replacements) + Self.oddKeyMutations(of: json)).filter { $0.objectValue != nil }
                guard let next = candidates.randomElement(using: &rng) else { break }
                json = next
            }
            Self.agree(entry.type, json)
        }
    }

    /// The shared real-data folder (`TICKFOLD_SHARED_DATA`, or `shared/data` beside the main
    /// checkout or this worktree), when present.
    static let sharedData: URL? = {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [ProcessInfo.processInfo.environment["TICKFOLD_SHARED_DATA"].map { URL(fileURLWithPath: $0) }]
            + ["../shared/data", "../../shared/data"].map { Optional(repository.appendingPathComponent($0).standardizedFileURL) }
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("README.md").path) }
    }()

    /// Strings from recorded API responses (the repository's fixtures, and the shared data when
    /// present): every one with an escape or non-ASCII text (titles, posts and names with
    /// quotes, newlines, accents, CJK, emoji), and every 50th of the plain ones.
    static let realStrings: [String] = {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var strings = Set<String>()
        func collect(_ value: JSONValue) {
            switch value {
            case .string(let s): strings.insert(s)
            case .array(let elements): elements.forEach(collect)
            case .object(let object):
                for member in object.members {
                    strings.insert(member.key)
                    collect(member.value)
                }
            case .null, .bool, .number: break
            }
        }
        for root in [repository.appendingPathComponent("fixtures"), sharedData].compactMap({ $0 }) {
            for case let file as String in FileManager.default.enumerator(atPath: root.path) ?? FileManager.DirectoryEnumerator() where file.hasSuffix(".json") {
                if let data = FileManager.default.contents(atPath: root.appendingPathComponent(file).path), let json = try? JSONValue.parse([UInt8](data)) {
                    collect(json)
                }
            }
        }
        let sorted = strings.sorted()
        func plain(_ text: String) -> Bool {
            text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        }
        return sorted.filter { !plain($0) } + sorted.filter(plain).enumerated().filter { $0.offset % 50 == 0 }.map(\.element)
    }()

    @Test("Real strings from recorded API responses in every string member read the same", arguments: Direct.directTypes.indices)
    func realText(typeIndex: Int) throws {
        let strings = Self.realStrings
        #expect(strings.count > 10)
        if Self.sharedData != nil {
            #expect(strings.contains { $0.utf8.contains(UInt8(ascii: "\"")) } && strings.contains { $0.utf8.contains(0x0a) })
            #expect(strings.contains { $0.unicodeScalars.contains { $0.value > 0xffff } })
        }
        let entry = Direct.directTypes[typeIndex]
        var samples = EventSamples(seed: 0xf1c5 + UInt64(typeIndex))
        let object = try #require(try samples.event(kind: entry.sampleKind).payload.objectValue)
        for index in object.members.indices where object.members[index].value.stringValue != nil {
            for text in strings {
                var changed = object
                changed.members[index].value = .string(text)
                Self.agree(entry.type, .object(changed))
            }
        }
        for text in strings.prefix(300) where object[text] == nil {
            Self.agree(entry.type, .object(JSONObject(object.members + [JSONObject.Member(text, .string(text))])))
        }
    }

    @Test("Unknown members from bytes: the outer object's first, nested ones in order; any decoding error wins")
    func unknownMemberOrder() throws {
        let ticker: JSONValue = ["ticker": "A", "relevance": "0.5"]
        let topic: JSONValue = ["topic": "t", "relevance": "0.1"]
        func article(topics: [JSONValue], tickers: [JSONValue], extra: Bool) throws -> [UInt8] {
            var object = JSONObject([
                .init("url", "u"), .init("title", "t"), .init("source", "s"), .init("publishedAt", "2025-01-31T10:57:09.000Z"),
                .init("authors", []), .init("topics", .array(topics)), .init("tickers", .array(tickers)),
            ])
            if extra { object["zExtra"] = true }
            return try CanonicalJSON.encode(.object(object))
        }
        var badTicker = try #require(ticker.objectValue)
        badTicker["bad"] = 1
        var badTopic = try #require(topic.objectValue)
        badTopic["worse"] = 2
        let cases: [([UInt8], String)] = [
            (try article(topics: [topic], tickers: [ticker, .object(badTicker)], extra: true), "zExtra"),
            (try article(topics: [topic, .object(badTopic)], tickers: [.object(badTicker)], extra: false), "topics[1].worse"),
            (try article(topics: [topic], tickers: [ticker, .object(badTicker)], extra: false), "tickers[1].bad"),
        ]
        for (bytes, path) in cases {
            #expect(throws: PayloadError(path: path, detail: "unknown field")) { try NewsArticle(payloadBytes: bytes) }
        }
        let mistyped = try article(topics: [.object(badTopic)], tickers: [["ticker": 1, "relevance": "1"]], extra: true)
        #expect(throws: PayloadError(path: "tickers[0].ticker", detail: "expected a string, found the number 1.0")) {
            try NewsArticle(payloadBytes: mistyped)
        }
    }

    @Test("Types without a direct reader (bookkeeping) read the same from bytes through the Codable decoder")
    func codableTypes() throws {
        var samples = EventSamples(seed: 0xc0da)
        var seen = Set<String>()
        for kind in 0..<EventSamples.kinds {
            let event = try samples.event(kind: kind)
            guard let entry = EventCatalog.standard.entry(event.type), !Direct.directTypes.contains(where: { $0.type.type == event.type }) else { continue }
            seen.insert(entry.type)
            func check<P: EventPayload>(_ type: P.Type) {
                #expect(Self.result { () throws(PayloadError) in try P(payloadBytes: event.payloadBytes) } == Self.result { () throws(PayloadError) in try P(json: event.payload) })
            }
            switch event.type {
            case StageDecision.type: check(StageDecision.self)
            case IngestCursor.type: check(IngestCursor.self)
            case IngestRejected.type: check(IngestRejected.self)
            default: Issue.record("unexpected Codable type \(event.type)")
            }
        }
        #expect(seen == ["stage.decision", "ingest.cursor", "ingest.rejected"])
    }
}
