import Testing
@testable import Events
import TickfoldTesting

/// The canonical-envelope scanner (fast path) against the general parser (strict path): the
/// scanner may decline anything, but whatever it accepts the strict path must accept as the
/// very same event.
@Suite("Fast decode path agrees with the strict path", .onTestThreads)
struct FastPathAgreementTests {
    /// The fast path alone: nil when it declines.
    static func fast(_ bytes: [UInt8], _ verification: IDVerification) -> Event? {
        bytes.withUnsafeBytes { buffer in
            var scanner = CanonicalEnvelopeScanner(buffer)
            return scanner.scan(verification: verification)
        }
    }

    /// The strict path alone.
    static func strict(_ bytes: [UInt8], _ verification: IDVerification) -> Result<Event, EventError> {
        var decoder = EventDecoder()
        do throws(EventError) {
            return .success(try decoder.decodeGeneral(bytes, verification: verification))
        } catch {
            return .failure(error)
        }
    }

    /// Records an issue when the fast path accepts what the strict path rejects or decodes differently.
    static func checkAgreement(_ bytes: [UInt8], _ verification: IDVerification, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard let fast = fast(bytes, verification) else { return false }
        switch strict(bytes, verification) {
        case .success(let strict):
            #expect(fast == strict, "\(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        case .failure(let error):
            Issue.record("fast path accepted what the strict path rejects (\(error)): \(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        }
        return true
    }

    @Test("Thousands of generated canonical envelopes of every type decode identically on both paths")
    func generated() throws {
        var samples = EventSamples(seed: 0xfa57)
        var events = try samples.events(EventSamples.kinds * 200)
        for i in events.indices where i % 2 == 0 { events[i].seq = UInt64(i * 7919 + 1) }
        var fastCount = 0
        for event in events {
            var stored = event
            stored.seq = nil
            for (bytes, expected) in [(try event.canonicalBytes(), stored), (try event.canonicalBytes(includingSeq: true), event)] {
                for verification in [IDVerification.recompute, .trustStored] where Self.checkAgreement(bytes, verification) {
                    fastCount += 1
                }
                let decoded = try Event.decode(bytes)
                #expect(decoded == expected)
                #expect(try decoded.canonicalBytes(includingSeq: true) == bytes)
            }
        }
        // Only payloads with escaped or ambiguous-order keys (stage.decision details) decline.
        #expect(fastCount > events.count * 4 * 9 / 10, "fast path took \(fastCount) of \(events.count * 4)")
    }

    @Test("Every typed payload type is read on the fast path, and its payload parses back to the JSON it was made from")
    func everyType() throws {
        var samples = EventSamples(seed: 12)
        for kind in 0..<EventSamples.kinds where kind != 20 {
            let event = try samples.event(kind: kind)
            let bytes = try event.canonicalBytes()
            let fast = try #require(Self.fast(bytes, .recompute), "\(event.type) declined: \(String(decoding: bytes, as: UTF8.self))")
            #expect(fast == event)
            #expect(try CanonicalJSON.encode(fast.payload) == event.payloadBytes)
            try EventCatalog.standard.validate(fast)
        }
    }

    @Test("Mutated envelopes: the fast path never accepts what the strict path rejects, on either verification")
    func mutations() throws {
        var samples = EventSamples(seed: 0xbad)
        let events = try samples.events(EventSamples.kinds * 12)
        var rng = SplitMix64(seed: 31)
        let interesting: [UInt8] = Array("{}[]\",:\\/0123456789abcdefABCDEF.eE-+tfnu ".utf8) + [0x00, 0x09, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xed, 0xee, 0xf0, 0xf4, 0xff]
        var accepted = 0
        var variants = 0
        for (index, event) in events.enumerated() {
            let original = try event.canonicalBytes(includingSeq: index % 3 == 0)
            for _ in 0..<60 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...2, using: &rng) {
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0...4, using: &rng) {
                    case 0: bytes[at] = interesting[Int.random(in: 0..<interesting.count, using: &rng)]
                    case 1: bytes[at] ^= UInt8(1 << Int.random(in: 0...7, using: &rng))
                    case 2: bytes.remove(at: at)
                    case 3: bytes.insert(interesting[Int.random(in: 0..<interesting.count, using: &rng)], at: at)
                    default: bytes[at] = bytes[Int.random(in: 0..<bytes.count, using: &rng)]
                    }
                    if bytes.isEmpty { break }
                }
                variants += 1
                for verification in [IDVerification.recompute, .trustStored] where Self.checkAgreement(bytes, verification) {
                    accepted += 1
                }
            }
            // Every prefix is refused by both.
            for cut in stride(from: 0, to: original.count, by: 7) {
                #expect(Self.fast(Array(original[..<cut]), .trustStored) == nil)
            }
        }
        #expect(variants > 10_000)
        // Mutations outside the identity (observedAt, provenance) still decode with .recompute;
        // mutations inside it only with .trustStored.
        #expect(accepted > 0)
    }

    @Test("With .trustLog, canonical envelopes of every type, edge strings and deep payloads decode as on the strict path")
    func trustLogAgrees() throws {
        var samples = EventSamples(seed: 0x7a11)
        var events = try samples.events(EventSamples.kinds * 100)
        let t = Timestamp(millisecondsSinceEpoch: 0)
        // Quotes and backslashes at every offset of a word, before and at a string's end.
        for length in 0..<18 {
            for special in ["\"", "\\", "\u{1}", "é"] {
                for at in 0...length {
                    let text = String(repeating: "a", count: at) + special + String(repeating: "b", count: length - at)
                    events.append(try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: t,
                                                 payload: ["k": .string(text), "l": [.string(text), ["m": .string(text)]]]))
                }
            }
        }
        // As deep as the scanners follow, with brackets inside strings.
        var nested: JSONValue = ["leaf": "}]\"{[", "n": [1, [2, ["}"]]]]
        for level in 0..<26 { nested = level % 2 == 0 ? ["d": nested] : [nested, "]"] }
        events.append(try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: t, payload: ["p": nested]))
        for (index, event) in events.enumerated() {
            var stored = event
            stored.seq = UInt64(index + 1)
            for bytes in [try event.canonicalBytes(), try stored.canonicalBytes(includingSeq: true)] {
                let fast = try #require(Self.fast(bytes, .trustLog), "declined \(String(decoding: bytes, as: UTF8.self))")
                #expect(fast == (try Event.decode(bytes)), "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        // Deeper payloads are left to the strict path, which reads them up to its limit.
        for levels in [33, 63] {
            var deep: JSONValue = 1
            for _ in 0..<(levels - 1) { deep = ["d": deep] }
            let event = try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: t, payload: ["p": deep])
            let bytes = try event.canonicalBytes()
            #expect(Self.fast(bytes, .trustLog) == nil)
            #expect(try Event.decode(bytes, verification: .trustLog) == event)
        }
    }

    @Test("Event.make refuses a payload nested deeper than a decoder reads back")
    func makeRefusesTooDeep() throws {
        var deep: JSONValue = 1
        for _ in 0..<62 { deep = [deep] }
        let fits = try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: Timestamp(millisecondsSinceEpoch: 0), payload: ["p": deep])
        #expect(try Event.decode(try fits.canonicalBytes(includingSeq: true)) == fits)
        let error = #expect(throws: EventError.self) {
            try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: Timestamp(millisecondsSinceEpoch: 0), payload: ["p": [deep]])
        }
        #expect(error?.code == .notCanonicalizable && error?.field == "payload", "\(String(describing: error))")
    }

    /// What `.trustLog` promises for damaged bytes is only that damage outside the payload is
    /// still caught: a damaged payload is caught by the block checksum (compressed values) or by
    /// reading with `.trustStored` (uncompressed ones, `EventLogDecodedReadTests`).
    @Test("With .trustLog, a damaged envelope member is refused or read as the strict path reads it")
    func trustLogMutations() throws {
        var samples = EventSamples(seed: 0xdad)
        let events = try samples.events(EventSamples.kinds * 12)
        var rng = SplitMix64(seed: 77)
        var accepted = 0
        for (index, event) in events.enumerated() {
            var stored = event
            stored.seq = index % 2 == 0 ? UInt64(index + 1) : nil
            let original = try stored.canonicalBytes(includingSeq: stored.seq != nil)
            let payload = try #require(original.firstRange(of: Array(#","payload":"#.utf8))).upperBound
            let outside = Array(0..<payload) + Array((payload + event.payloadBytes.count)..<original.count)
            for _ in 0..<80 {
                var bytes = original
                bytes[outside[Int.random(in: 0..<outside.count, using: &rng)]] = UInt8.random(in: 0...0xff, using: &rng)
                guard let fast = Self.fast(bytes, .trustLog) else { continue }
                accepted += 1
                switch Self.strict(bytes, .trustStored) {
                case .success(let strict): #expect(fast == strict, "\(String(decoding: bytes, as: UTF8.self))")
                case .failure(let error): Issue.record("accepted what the strict path rejects (\(error)): \(String(decoding: bytes, as: UTF8.self))")
                }
            }
            for cut in stride(from: 0, to: original.count, by: 5) {
                #expect(Self.fast(Array(original[..<cut]), .trustLog) == nil)
            }
        }
        #expect(accepted > 0)
    }

    @Test("Non-canonical spellings are left to the strict path, which decodes them to the canonical event", arguments: [
        ("{", "{ "),                                         // whitespace
        (#""version":2}"#, #""version":2.0}"#),              // non-canonical number
        (#""version":2}"#, #""version":2e0}"#),
        (#""subject":"SPY""#, #""subject":"\u0053PY""#),     // needless escape
        (#""request":"yahoo:chart:SPY:1d""#, #""request":"yahoo\u003achart:SPY:1d""#),
        (#""request":"yahoo:chart:SPY:1d""#, #""request":"yahoo:chart\/SPY:1d""#),
        (#""close":"603.55""#, #""close":"603.55" "#),
        (#""volume":61234567"#, #""volume":61234567.0"#),
        (#""volume":61234567"#, #""volume":6.1234567e7"#),
    ])
    func nonCanonical(from: String, to: String) throws {
        let event = try EventTests.bar()
        let canonical = String(decoding: try event.canonicalBytes(), as: UTF8.self)
        let variant = Array(canonical.replacingFirst(from, with: to).utf8)
        #expect(variant != Array(canonical.utf8))
        #expect(Self.fast(variant, .trustStored) == nil)
        #expect(Self.fast(variant, .recompute) == nil)
        let decoded = try Event.decode(variant)
        if to.contains("\\/") {
            #expect(decoded.id == event.id)
            #expect(decoded.provenance?.request == "yahoo:chart/SPY:1d")
        } else {
            #expect(decoded == event)
        }
    }

    @Test("Reordered members and payload keys are left to the strict path")
    func reordered() throws {
        let event = try EventTests.bar()
        let canonical = String(decoding: try event.canonicalBytes(), as: UTF8.self)
        let swappedEnvelope = canonical.replacingFirst(#","source":"yahoo","subject":"SPY""#, with: #","subject":"SPY","source":"yahoo""#)
        let swappedPayload = canonical.replacingFirst(#""close":"603.55","date":"2026-02-18""#, with: #""date":"2026-02-18","close":"603.55""#)
        let duplicateKey = canonical.replacingFirst(#""close":"603.55","date":"2026-02-18""#, with: #""close":"603.55","close":"603.55","date":"2026-02-18""#)
        for text in [swappedEnvelope, swappedPayload] {
            #expect(Self.fast(Array(text.utf8), .trustStored) == nil)
            #expect(try Event.decode(Array(text.utf8)) == event)
        }
        #expect(Self.fast(Array(duplicateKey.utf8), .trustStored) == nil)
        #expect(throws: EventError.self) { try Event.decode(Array(duplicateKey.utf8), verification: .trustStored) }
    }

    @Test("Payload strings and numbers at the edges of canonical form")
    func payloadEdges() throws {
        let t = Timestamp(millisecondsSinceEpoch: 0)
        let values: [JSONValue] = [
            "", "\u{0}\u{1}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{1F}\u{7F}", "\"\\/", "é€😀\u{FFFD}\u{E000}\u{10FFFF}", "12345678",
            0, -1, 1e21, 1e-7, 0.1, .number(-.leastNonzeroMagnitude), 1.7976931348623157e308, 9_007_199_254_740_991, 123456789012345, 1234567890123456,
            [], [[[]]], [:], true, false, nil, ["a": ["b": [1, "x", nil]]],
        ]
        for value in values {
            let event = try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: t, payload: ["v": value, "w": [value, value]])
            let bytes = try event.canonicalBytes()
            let fast = try #require(Self.fast(bytes, .recompute), "declined \(String(decoding: bytes, as: UTF8.self))")
            #expect(fast == event)
            #expect(fast.payload == event.payload)
        }
        // Keys that only a UTF-16 comparison orders, or that carry escapes, go to the strict path.
        for object: JSONValue in [["\u{E000}": 1, "😀": 2], ["a\"b": 1], ["\u{1}": 1]] {
            let event = try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: t, payload: object)
            let bytes = try event.canonicalBytes()
            #expect(Self.fast(bytes, .recompute) == nil)
            #expect(try Event.decode(bytes) == event)
        }
        // Deep nesting beyond the scanner's depth still decodes (strict path), up to the parser's limit.
        var deep: JSONValue = [:]
        for _ in 0..<40 { deep = ["d": deep] }
        let event = try Event.make(type: "test.edge", version: 1, source: "s", subject: "x", occurredAt: t, payload: deep)
        #expect(Self.fast(try event.canonicalBytes(), .recompute) == nil)
        #expect(try Event.decode(try event.canonicalBytes()) == event)
    }

    @Test("The word-at-a-time timestamp parser agrees with the byte-wise one on valid and broken times")
    func timestamps() throws {
        var rng = SplitMix64(seed: 8)
        var texts = ["0000-01-01T00:00:00.000Z", "2024-02-29T23:59:59.999Z", "2023-02-29T00:00:00.000Z", "2025-13-01T00:00:00.000Z",
                     "2025-01-31T24:00:00.000Z", "2025-01-31T10:60:00.000Z", "2025-01-31T10:57:60.000Z", "2025-01-31t10:57:09.000Z"]
        for _ in 0..<3000 {
            var text = Array(Timestamp(millisecondsSinceEpoch: Int64.random(in: Timestamp.range, using: &rng)).rfc3339.utf8)
            texts.append(String(decoding: text, as: UTF8.self))
            text[Int.random(in: 0..<24, using: &rng)] = UInt8.random(in: 0x20...0x7f, using: &rng)
            texts.append(String(decoding: text, as: UTF8.self))
        }
        var accepted = 0
        for text in texts {
            let raw = Array(text.utf8).withUnsafeBytes { Timestamp.parseCanonical($0) }
            let generic = Timestamp.parseCanonical(Array(text.utf8))
            #expect(raw == generic, "\(text)")
            if raw != nil { accepted += 1 }
        }
        #expect(accepted > 3000 && accepted < texts.count)
    }

    @Test("Typed payload encoding still names the field path of a value JSON cannot carry")
    func encodingErrorPath() throws {
        let post = SocialPost(platform: .x, postId: "1", authorId: "2", text: "t", createdAt: Timestamp(millisecondsSinceEpoch: 0),
                              metrics: PostMetrics(likes: 1, reposts: Int.max))
        let error = #expect(throws: PayloadError.self) { try post.json() }
        #expect(error?.path == "metrics.reposts")
    }

    @Test("Lent raw buffers decode like arrays, and a mismatching id is reported by the strict path")
    func rawBuffers() throws {
        let event = try EventTests.bar()
        let bytes = try event.canonicalBytes()
        var decoder = EventDecoder()
        let decoded = try bytes.withUnsafeBytes { buffer throws(EventError) in try decoder.decode(buffer) }
        #expect(decoded == event)
        let tampered = Array(String(decoding: bytes, as: UTF8.self).replacingFirst("603.55", with: "603.56").utf8)
        #expect(Self.fast(tampered, .recompute) == nil)
        #expect(Self.fast(tampered, .trustStored) != nil)
        let error = #expect(throws: EventError.self) {
            try tampered.withUnsafeBytes { buffer throws(EventError) in try decoder.decode(buffer) }
        }
        #expect(error?.code == .idMismatch)
    }
}
