import Testing
@testable import Events
import TickfoldTesting

/// The direct decoders (`DirectlyDecodablePayload`) against the reference `Codable` decoder
/// (`PayloadDecoding`): same value or same `PayloadError` (path and detail) for valid payloads,
/// every single-field breakage and random combinations of breakages. Every comparison also
/// reads the canonical bytes in place against their tree (`CanonicalPayloadDecodingTests`).
@Suite("Direct payload decoding agrees with the Codable decoder", .onTestThreads)
struct DirectPayloadDecodingTests {
    /// The payload types with a direct decoder, and the `EventSamples` kind that generates each.
    static let directTypes: [(type: any DirectlyDecodablePayload.Type, sampleKind: Int)] = [
        (DailyBar.self, 0), (DailyBarV1.self, 1), (IntradayBar.self, 2), (Trade.self, 3), (MacroObservation.self, 7),
        (NewsArticle.self, 14), (SocialPost.self, 15), (CryptoTicker.self, 19), (CryptoTickerV1.self, 23),
        (MarketMover.self, 4), (StockSplit.self, 5), (CashDividend.self, 6), (ETFHolding.self, 8), (ETFProfile.self, 9),
        (IndexConstituent.self, 10), (CompanyOverview.self, 11), (BalanceSheet.self, 12), (EarningsCalendarEntry.self, 13),
        (SocialProfile.self, 16), (CryptoListing.self, 17), (CryptoMarket.self, 18),
    ]

    /// JSON of every kind, including text that is valid for some field types (decimals, dates,
    /// times, enum cases) and numbers at the edges of the integer rules; text that canonical JSON
    /// escapes or writes as multi-byte UTF-8, numbers in exponent form, odd containers.
    static let replacements: [JSONValue] = [
        .null, true, false, 0, 7, -3, 1.5, -0.0, 1e300, 9_007_199_254_740_991, 9_007_199_254_740_992, -9_007_199_254_740_991,
        "", "x", "12.5", "-0.5", "01", "1e5", "+1", ".", "2024-02-29", "2023-02-29", "2025-01-31T10:57:09.000Z", "2025-01-31T10:57:09Z",
        "bithumb", "coingecko", "x", "truthsocial", "5m", "7m", "gainer", "most_active", "annual", "quarterly", [], ["a"], [1], [.null], [:], ["k": 1], ["ticker": "A", "relevance": "1"],
        "a\"b", "back\\slash", "line\nbreak", "\u{1}\u{1f}\u{7f}", "é", "日本語", "😀", "e\u{301}", "\u{212A}",
        "12.5\n", "-0.5\"", "2024-02-29\\", "2025-01-31T10:57:09.000Z\u{0}", "most_active\u{8}",
        "a string long enough that errors stop quoting it in full, with ünïcödé",
        1e21, 1e-7, 0.1, .number(.leastNonzeroMagnitude), 123_456_789_012, 2.5e15, 1_000_000_000_000_000.5, 9_007_199_254_740_993,
        [[]], ["x", 1], ["é": 1, "a\"b": [1, ["k": .null]]],
    ]

    /// Names of unknown members: plain ones sorting first and last, and ones canonical JSON
    /// escapes or writes as multi-byte UTF-8 (`\u{212A}`, the Kelvin sign, is canonically
    /// equivalent to "K").
    static let unknownKeys = ["aUnknown", "zUnknown", "", "é", "a\"b", "line\nkey", "\u{0}", "😀", "\u{212A}", "\u{FFFF}", "price\\"]

    static func reference<P: EventPayload>(_ type: P.Type, _ json: JSONValue) -> Result<P, PayloadError> {
        do {
            let payload = try PayloadDecoding.decode(P.self, from: json)
            try payload.validate()
            return .success(payload)
        } catch {
            return .failure(error)
        }
    }

    static func direct<P: EventPayload>(_ type: P.Type, _ json: JSONValue) -> Result<P, PayloadError> {
        do {
            return .success(try P(json: json))
        } catch {
            return .failure(error)
        }
    }

    /// Records a disagreement; returns whether the input decoded.
    @discardableResult
    static func agree(_ type: any DirectlyDecodablePayload.Type, _ json: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        func check<P: DirectlyDecodablePayload>(_ type: P.Type) -> Bool {
            let fast = direct(P.self, json)
            let slow = reference(P.self, json)
            #expect(fast == slow, "\(P.self) from \(json)", sourceLocation: sourceLocation)
            CanonicalPayloadDecodingTests.agree(P.self, json, sourceLocation: sourceLocation)
            if case .success = slow { return true }
            return false
        }
        return check(type)
    }

    /// Every single breakage of `value`: each member removed, replaced by every kind of JSON,
    /// unknown members first and last; arrays with elements replaced or appended; recursively.
    static func mutations(of value: JSONValue) -> [JSONValue] {
        var out: [JSONValue] = []
        switch value {
        case .object(let object):
            out.append(.object(JSONObject([JSONObject.Member(unknownKeys[0], 1)] + object.members)))
            for key in unknownKeys.dropFirst() where object[key] == nil {
                out.append(.object(JSONObject(object.members + [JSONObject.Member(key, "x")])))
            }
            for index in object.members.indices {
                var removed = object
                removed.members.remove(at: index)
                out.append(.object(removed))
                for replacement in replacements + mutations(of: object.members[index].value) {
                    var changed = object
                    changed.members[index].value = replacement
                    out.append(.object(changed))
                }
            }
        case .array(let elements):
            for replacement in replacements {
                out.append(.array(elements + [replacement]))
            }
            for index in elements.indices {
                for replacement in replacements + mutations(of: elements[index]) {
                    var changed = elements
                    changed[index] = replacement
                    out.append(.array(changed))
                }
            }
        case .null, .bool, .number, .string:
            break
        }
        return out
    }

    @Test("Every folded catalogue type is read directly; only bookkeeping types keep Codable")
    func selection() throws {
        for entry in Self.directTypes {
            #expect(EventCatalog.standard.entry(entry.type.type) != nil)
        }
        #expect(!(StageDecision.self is any DirectlyDecodablePayload.Type))
        // Only the bookkeeping types, which no projection folds, keep the Codable path.
        let direct = Set(Self.directTypes.map { $0.type.type })
        #expect(Set(EventCatalog.standard.types).subtracting(direct) == ["stage.decision", "ingest.cursor", "ingest.rejected"])
        var samples = EventSamples(seed: 11)
        for entry in Self.directTypes {
            let event = try samples.event(kind: entry.sampleKind)
            #expect(entry.type.type == event.type && entry.type.version == event.version)
        }
    }

    @Test("Thousands of generated payloads of every direct type decode to the same values", arguments: DirectPayloadDecodingTests.directTypes.indices)
    func generated(typeIndex: Int) throws {
        let entry = Self.directTypes[typeIndex]
        var samples = EventSamples(seed: 0x5eed + UInt64(typeIndex))
        for _ in 0..<1000 {
            let json = try samples.event(kind: entry.sampleKind).payload
            #expect(Self.agree(entry.type, json), "a generated \(entry.type) must decode")
        }
    }

    @Test("The codec benchmark's events read the same through the catalogue on both paths")
    func benchmarkMix() throws {
        for event in try EventCodecBenchmark.sampleEvents(count: 3000, seed: 42) {
            let current = try EventCatalog.standard.currentPayload(of: event).payload
            for entry in Self.directTypes where entry.type.type == event.type && entry.type.version == EventCatalog.standard.entry(event.type)?.currentVersion {
                #expect(Self.agree(entry.type, current))
            }
        }
    }

    @Test("Every single breakage of generated payloads gives the same error or value", arguments: DirectPayloadDecodingTests.directTypes.indices)
    func brokenFields(typeIndex: Int) throws {
        let entry = Self.directTypes[typeIndex]
        var samples = EventSamples(seed: 0xb0de + UInt64(typeIndex))
        var refused = 0
        var total = 0
        for _ in 0..<12 {
            let json = try samples.event(kind: entry.sampleKind).payload
            for root in Self.replacements where root.objectValue == nil {
                Self.agree(entry.type, root)
            }
            for broken in Self.mutations(of: json) {
                total += 1
                if !Self.agree(entry.type, broken) { refused += 1 }
            }
        }
        // Most breakages must be refusals, or the mutations test nothing.
        #expect(refused * 2 > total)
    }

    @Test("Two members set to null (wrong for every field): the one declared first is reported", arguments: DirectPayloadDecodingTests.directTypes.indices)
    func fieldOrder(typeIndex: Int) throws {
        let entry = Self.directTypes[typeIndex]
        var samples = EventSamples(seed: 0x04de + UInt64(typeIndex))
        for _ in 0..<20 {
            let object = try #require(try samples.event(kind: entry.sampleKind).payload.objectValue)
            for first in object.members.indices {
                for second in object.members.indices where second > first {
                    var broken = object
                    broken.members[first].value = nil
                    broken.members[second].value = nil
                    #expect(!Self.agree(entry.type, .object(broken)))
                }
            }
        }
    }

    @Test("Random combinations of breakages report the same first error", arguments: DirectPayloadDecodingTests.directTypes.indices)
    func combinedBreakages(typeIndex: Int) throws {
        let entry = Self.directTypes[typeIndex]
        var samples = EventSamples(seed: 0xc0b0 + UInt64(typeIndex))
        var rng = SplitMix64(seed: 0xc0b1 + UInt64(typeIndex))
        for _ in 0..<150 {
            var json = try samples.event(kind: entry.sampleKind).payload
            for _ in 0..<Int.random(in: 2...4, using: &rng) {
                let candidates = Self.mutations(of: json).filter { $0.objectValue != nil }
                guard let next = candidates.randomElement(using: &rng) else { break }
                json = next
            }
            Self.agree(entry.type, json)
        }
    }

    @Test("Unknown members: the outer object's is reported before a nested one's, nested ones in order")
    func unknownMemberOrder() throws {
        let ticker: JSONValue = ["ticker": "A", "relevance": "0.5"]
        let topic: JSONValue = ["topic": "t", "relevance": "0.1"]
        func article(topics: [JSONValue], tickers: [JSONValue], extra: Bool) -> JSONValue {
            var object = JSONObject([
                .init("url", "u"), .init("title", "t"), .init("source", "s"), .init("publishedAt", "2025-01-31T10:57:09.000Z"),
                .init("authors", []), .init("topics", .array(topics)), .init("tickers", .array(tickers)),
            ])
            if extra { object["zExtra"] = true }
            return .object(object)
        }
        var badTicker = ticker.objectValue!
        badTicker["bad"] = 1
        var badTopic = topic.objectValue!
        badTopic["worse"] = 2
        let cases: [(JSONValue, String)] = [
            (article(topics: [topic], tickers: [ticker, .object(badTicker)], extra: true), "zExtra"),
            (article(topics: [topic, .object(badTopic)], tickers: [.object(badTicker)], extra: false), "topics[1].worse"),
            (article(topics: [topic], tickers: [ticker, .object(badTicker)], extra: false), "tickers[1].bad"),
        ]
        for (json, path) in cases {
            #expect(Self.direct(NewsArticle.self, json) == .failure(PayloadError(path: path, detail: "unknown field")))
            Self.agree(NewsArticle.self, json)
        }
        // A decoding error anywhere wins over any unknown member.
        let mistyped = article(topics: [.object(badTopic)], tickers: [["ticker": 1, "relevance": "1"]], extra: true)
        #expect(Self.direct(NewsArticle.self, mistyped) == .failure(PayloadError(path: "tickers[0].ticker", detail: "expected a string, found the number 1.0")))
        Self.agree(NewsArticle.self, mistyped)
    }

    @Test("Catalogue reads: wrong type or version, v1 bars upcast, errors carry the event type")
    func catalogue() throws {
        var samples = EventSamples(seed: 5)
        let v1 = try samples.event(kind: 1)
        let upcast = try EventCatalog.standard.payload(of: v1, as: DailyBar.self)
        let reference = try PayloadDecoding.decode(DailyBar.self, from: EventCatalog.standard.currentPayload(of: v1).payload)
        #expect(upcast == reference)
        #expect(throws: PayloadError(path: "", detail: "current version is 2, DailyBarV1 is version 1", type: "bar.daily")) {
            try EventCatalog.standard.payload(of: v1, as: DailyBarV1.self)
        }
        let broken = try Event.make(
            type: "trade", version: 1, source: "finnhub", subject: "AAPL", occurredAt: Timestamp(millisecondsSinceEpoch: 0),
            payload: ["price": "1", "size": "2", "timestampMs": 1.5, "conditions": []])
        #expect(throws: PayloadError(path: "timestampMs", detail: "expected an integer, found the number 1.5", type: "trade")) {
            try broken.payload(as: Trade.self)
        }
    }

    @Test("DecimalString.isValid, now read from UTF-8 in place, matches its documented pattern")
    func decimalValidity() throws {
        let pattern = try Regex(DecimalString.pattern)
        let alphabet = ["-", "0", "1", "9", ".", "+", "e", " ", "١", "１", "é"]
        var rng = SplitMix64(seed: 0xdec)
        var strings = ["", "0", "-0", "00", "01", "0.", ".5", "-", "1.5", "-12.034", "1e5", "12345678901234567890.5"]
        for _ in 0..<20_000 {
            strings.append(String((0..<Int.random(in: 0...7, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()))
        }
        for text in strings {
            #expect(DecimalString.isValid(text) == (text.wholeMatch(of: pattern) != nil), "\(text)")
        }
    }

    @Test("LocalDate text, now written in place, round-trips and pads every part")
    func dateText() throws {
        #expect(LocalDate(year: 7, month: 3, day: 9)?.description == "0007-03-09")
        #expect(LocalDate(year: 9999, month: 12, day: 31)?.description == "9999-12-31")
        var rng = SplitMix64(seed: 0xda7e)
        for _ in 0..<5000 {
            let date = LocalDate(daysSinceEpoch: Int64.random(in: -719_162...2_932_896, using: &rng))
            #expect(try LocalDate(date.description) == date)
        }
    }
}
