import Foundation
import Testing
@testable import Events
import TickfoldTesting

/// Payloads read in place from canonical bytes (`init(payloadBytes:)`, which the catalogue uses
/// for events stored at the current version) against the same types read from the parsed
/// `JSONValue` tree: the same value, or the same `PayloadError` (path, detail, event type).
@Suite("Payloads read from canonical bytes agree with the JSONValue path", .onTestThreads)
struct CanonicalPayloadDecodingTests {
    typealias Direct = DirectPayloadDecodingTests

    /// Both paths on the canonical bytes of `json`: `init(payloadBytes:)` against `init(json:)`
    /// of the parsed bytes; with `throughCatalogue`, also the catalogue's read of an event
    /// holding the payload against the tree's result tagged with the event type.
    @discardableResult
    static func agree<P: DirectlyDecodablePayload>(_ type: P.Type, _ json: JSONValue, throughCatalogue: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
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
        if throughCatalogue, json.objectValue != nil {
            do {
                let event = try Event.make(
                    type: P.type, version: P.version, source: "test", subject: "S", occurredAt: Timestamp(millisecondsSinceEpoch: 0), payload: json)
                let catalogued = result { () throws(PayloadError) in try EventCatalog.standard.payload(of: event, as: P.self) }
                #expect(catalogued == tree.mapError { PayloadError(path: $0.path, detail: $0.detail, type: P.type) }, "catalogue read of \(P.self)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("no event for \(json): \(error)", sourceLocation: sourceLocation)
            }
        }
        if case .success = tree { return true }
        return false
    }

    static func result<P>(_ body: () throws(PayloadError) -> P) -> Result<P, PayloadError> {
        do {
            return .success(try body())
        } catch {
            return .failure(error)
        }
    }

    /// The types read directly at their catalogue's current version (not `DailyBarV1`).
    static let currentTypes = Direct.directTypes.filter { EventCatalog.standard.entry($0.type.type)?.currentVersion == $0.type.version }

    @Test("Generated events and every single breakage of one read the same through the catalogue, errors tagged with the type", arguments: CanonicalPayloadDecodingTests.currentTypes.indices)
    func catalogue(typeIndex: Int) throws {
        let entry = Self.currentTypes[typeIndex]
        var samples = EventSamples(seed: 0xb17e + UInt64(typeIndex))
        func check<P: DirectlyDecodablePayload>(_ type: P.Type) throws {
            for _ in 0..<200 {
                #expect(Self.agree(P.self, try samples.event(kind: entry.sampleKind).payload, throughCatalogue: true))
            }
            var refused = 0
            let mutations = Direct.mutations(of: try samples.event(kind: entry.sampleKind).payload)
            for broken in mutations where !Self.agree(P.self, broken, throughCatalogue: true) {
                refused += 1
            }
            // Refusals carry the type; `DirectPayloadDecodingTests.brokenFields` checks most breakages are refused.
            #expect(refused > mutations.count / 4)
        }
        try check(entry.type)
    }

    @Test("The codec benchmark's stored events (v1 bars upcast) read the same through the catalogue as from their trees")
    func benchmarkMix() throws {
        var inPlace = 0
        for event in try EventCodecBenchmark.sampleEvents(count: 3000, seed: 42) {
            let current = try EventCatalog.standard.currentPayload(of: event).payload
            for entry in Self.currentTypes where entry.type.type == event.type {
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
