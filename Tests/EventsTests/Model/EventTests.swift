import Crypto
import Foundation
import Testing
@testable import Events
import TickfoldTesting

@Suite("Event envelope and identity", .onTestThreads)
struct EventTests {
    static let occurredAt = try! Timestamp(canonical: "2026-02-18T21:00:00.000Z")

    static func bar() throws -> Event {
        try Event.make(
            DailyBar(date: try LocalDate("2026-02-18"), open: "601.10", high: "605.00", low: "598.27", close: "603.55", volume: 61_234_567),
            source: "yahoo", subject: "SPY", occurredAt: occurredAt,
            observedAt: try Timestamp(canonical: "2026-02-19T09:00:01.250Z"),
            provenance: Provenance(request: "yahoo:chart:SPY:1d", causation: "stage-1"))
    }

    @Test("Event ids order, compare and print as their 32 bytes do")
    func idOrder() throws {
        var rng = SplitMix64(seed: 0x1d)
        var ids: [(EventID, [UInt8])] = []
        for _ in 0..<2_000 {
            // Shared prefixes make later words decide.
            var bytes = (0..<32).map { _ in UInt8.random(in: 0...3, using: &rng) }
            bytes[Int.random(in: 0..<32, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            ids.append((try #require(EventID(bytes: bytes)), bytes))
        }
        for (a, b) in Array(zip(ids, ids.dropFirst())) + Array(zip(ids, ids)) {
            #expect((a.0 < b.0) == a.1.lexicographicallyPrecedes(b.1))
            #expect((a.0 == b.0) == (a.1 == b.1))
        }
        for (id, bytes) in ids {
            #expect(id.bytes == bytes)
            #expect(EventID(hex: id.hex) == id)
            #expect(id.withUnsafeBytes { Array($0) } == bytes)
        }
    }

    @Test("The id is SHA-256 of the canonical identity object, independent of observedAt, provenance and seq")
    func identity() throws {
        let event = try Self.bar()
        let identity = #"{"occurredAt":"2026-02-18T21:00:00.000Z","payload":{"close":"603.55","date":"2026-02-18","high":"605.00","low":"598.27","open":"601.10","volume":61234567},"source":"yahoo","subject":"SPY","type":"bar.daily","version":2}"#
        #expect(String(decoding: try event.identityBytes(), as: UTF8.self) == identity)
        let digest = SHA256.hash(data: Array(identity.utf8))
        #expect(event.id.bytes == Array(digest))

        let refetched = try Event.make(
            type: event.type, version: event.version, source: event.source, subject: event.subject,
            occurredAt: event.occurredAt, payload: event.payload, observedAt: Timestamp(millisecondsSinceEpoch: 0), provenance: nil)
        #expect(refetched.id == event.id)

        let revised = try Event.make(
            type: event.type, version: event.version, source: event.source, subject: event.subject,
            occurredAt: event.occurredAt, payload: ["close": "603.56"], observedAt: nil)
        #expect(revised.id != event.id)
    }

    @Test("Canonical envelope: sorted members, seq only on request, decodes back to the same event")
    func envelope() throws {
        var event = try Self.bar()
        let stored = String(decoding: try event.canonicalBytes(), as: UTF8.self)
        #expect(stored == #"{"id":"\#(event.id.hex)","observedAt":"2026-02-19T09:00:01.250Z","occurredAt":"2026-02-18T21:00:00.000Z","payload":{"close":"603.55","date":"2026-02-18","high":"605.00","low":"598.27","open":"601.10","volume":61234567},"provenance":{"causation":"stage-1","request":"yahoo:chart:SPY:1d"},"source":"yahoo","subject":"SPY","type":"bar.daily","version":2}"#)
        // The stored form is already canonical.
        #expect(try CanonicalJSON.canonicalize(Array(stored.utf8)) == Array(stored.utf8))

        event.seq = 42
        #expect(try event.canonicalBytes() == Array(stored.utf8))
        let kafka = try event.canonicalBytes(includingSeq: true)
        #expect(String(decoding: kafka, as: UTF8.self).contains(#""provenance":{"causation":"stage-1","request":"yahoo:chart:SPY:1d"},"seq":42,"source""#))
        #expect(try CanonicalJSON.canonicalize(kafka) == kafka)

        let decoded = try Event.decode(kafka)
        #expect(decoded == event)
        #expect(decoded.seq == 42)
        let fromStored = try Event.decode(Array(stored.utf8))
        #expect(fromStored.seq == nil)
        #expect(fromStored.id == event.id)
    }

    @Test("Minimal envelope omits observedAt and provenance")
    func minimal() throws {
        let event = try Event.make(type: "ingest.cursor", version: 1, source: "tickfold", subject: "alphavantage/overview",
                                   occurredAt: Timestamp(millisecondsSinceEpoch: 1), payload: ["plan": "overview", "position": 20, "source": "alphavantage"])
        let text = String(decoding: try event.canonicalBytes(), as: UTF8.self)
        #expect(text == #"{"id":"\#(event.id.hex)","occurredAt":"1970-01-01T00:00:00.001Z","payload":{"plan":"overview","position":20,"source":"alphavantage"},"source":"tickfold","subject":"alphavantage/overview","type":"ingest.cursor","version":1}"#)
        #expect(try Event.decode(Array(text.utf8)) == event)
    }

    @Test("A tampered payload, type or time is caught by recomputing the id")
    func tamper() throws {
        let stored = String(decoding: try Self.bar().canonicalBytes(), as: UTF8.self)
        for (from, to) in [("603.55", "603.56"), ("\"SPY\"", "\"QQQ\""), ("21:00:00.000Z", "21:00:00.001Z"), ("\"version\":2", "\"version\":3")] {
            let tampered = stored.replacingFirst(from, with: to)
            #expect(tampered != stored)
            do {
                _ = try Event.decode(Array(tampered.utf8))
                Issue.record("accepted a tampered envelope (\(from) → \(to))")
            } catch {
                #expect(error.code == .idMismatch, "\(error)")
                #expect(error.field == "id")
            }
            // Trusting the stored id skips the check (the log's fast path).
            #expect(throws: Never.self) { try Event.decode(Array(tampered.utf8), verification: .trustStored) }
        }
        // Changing observedAt or provenance does not change the identity.
        let reobserved = stored.replacingFirst("09:00:01.250Z", with: "10:00:00.000Z").replacingFirst("stage-1", with: "stage-9")
        #expect(try Event.decode(Array(reobserved.utf8)).id == (try Self.bar()).id)
    }

    @Test("Envelope errors name the field", arguments: [
        (#"[]"#, EventError.Code.invalidField, nil as String?),
        (#"{"#, .malformedJSON, nil),
        (#"{"id":"00","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"source":"s","subject":"x","type":"a.b","version":1}"#, .invalidField, "id"),
        (#"{"occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"source":"s","subject":"x","type":"a.b","version":1}"#, .missingField, "id"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00Z","payload":{},"source":"s","subject":"x","type":"a.b","version":1}"#, .invalidField, "occurredAt"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":[],"source":"s","subject":"x","type":"a.b","version":1}"#, .invalidField, "payload"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"source":"s","subject":"x","type":"A.b","version":1}"#, .invalidField, "type"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"source":"s","subject":"x","type":"a.b","version":1.5}"#, .invalidField, "version"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"source":"","subject":"x","type":"a.b","version":1}"#, .invalidField, "source"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"source":"s","subject":"x","type":"a.b","version":1,"extra":1}"#, .unknownField, "extra"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"source":"s","subject":"x","type":"a.b","version":1,"seq":0}"#, .invalidField, "seq"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"provenance":{},"source":"s","subject":"x","type":"a.b","version":1}"#, .invalidField, "provenance"),
        (#"{"id":"ID","occurredAt":"2026-02-18T21:00:00.000Z","payload":{},"provenance":{"who":"me"},"source":"s","subject":"x","type":"a.b","version":1}"#, .unknownField, "provenance.who"),
    ])
    func envelopeErrors(text: String, code: EventError.Code, field: String?) throws {
        let input = text.replacingFirst("\"ID\"", with: "\"" + String(repeating: "a", count: 64) + "\"")
        do {
            _ = try Event.decode(Array(input.utf8))
            Issue.record("accepted \(input)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.field == field, "\(error)")
        }
    }

    @Test("make validates type, version, text fields, time range and payload kind")
    func makeValidation() {
        let t = Timestamp(millisecondsSinceEpoch: 0)
        #expect(throws: EventError.self) { try Event.make(type: "Bar", version: 1, source: "s", subject: "x", occurredAt: t, payload: [:]) }
        #expect(throws: EventError.self) { try Event.make(type: "bar..daily", version: 1, source: "s", subject: "x", occurredAt: t, payload: [:]) }
        #expect(throws: EventError.self) { try Event.make(type: "bar.daily", version: 0, source: "s", subject: "x", occurredAt: t, payload: [:]) }
        #expect(throws: EventError.self) { try Event.make(type: "bar.daily", version: 1, source: "", subject: "x", occurredAt: t, payload: [:]) }
        #expect(throws: EventError.self) { try Event.make(type: "bar.daily", version: 1, source: "s", subject: "x", occurredAt: Timestamp(millisecondsSinceEpoch: .max), payload: [:]) }
        #expect(throws: EventError.self) { try Event.make(type: "bar.daily", version: 1, source: "s", subject: "x", occurredAt: t, payload: [1]) }
        #expect(throws: EventError.self) { try Event.make(type: "bar.daily", version: 1, source: "s", subject: "x", occurredAt: t, payload: ["x": .number(.nan)]) }
    }
}

@Suite("Timestamps and dates", .onTestThreads)
struct TimestampTests {
    @Test("Canonical form round-trips across the whole supported range")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 3)
        var samples: [Int64] = [0, -1, 1, Timestamp.range.lowerBound, Timestamp.range.upperBound, 951_782_400_000, 4_107_542_400_000]
        for _ in 0..<5000 { samples.append(Int64.random(in: Timestamp.range, using: &rng)) }
        for ms in samples {
            let t = Timestamp(millisecondsSinceEpoch: ms)
            #expect(try Timestamp(canonical: t.rfc3339) == t, "\(ms) \(t.rfc3339)")
            #expect(try Timestamp.parseRFC3339(t.rfc3339) == t)
        }
        #expect(Timestamp(millisecondsSinceEpoch: 0).rfc3339 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(millisecondsSinceEpoch: 951_782_400_000).rfc3339 == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: Timestamp.range.lowerBound).rfc3339 == "0001-01-01T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: Timestamp.range.upperBound).rfc3339 == "9999-12-31T23:59:59.999Z")
    }

    @Test("Lenient RFC 3339 parsing: offsets, fraction lengths, separators")
    func lenient() throws {
        let expected = try Timestamp(canonical: "2025-01-31T10:57:09.120Z")
        for text in ["2025-01-31T10:57:09.12Z", "2025-01-31t10:57:09.120999z", "2025-01-31 12:57:09.12+02:00", "2025-01-31T05:27:09.12-05:30"] {
            #expect(try Timestamp.parseRFC3339(text) == expected, "\(text)")
        }
        #expect(try Timestamp.parseRFC3339("2025-02-01T17:58:30Z").rfc3339 == "2025-02-01T17:58:30.000Z")
    }

    @Test("Malformed times and dates are refused", arguments: [
        "2025-01-31T10:57:09Z", "2025-01-31T10:57:09.000+00:00", "2025-02-30T00:00:00.000Z", "2025-01-31T24:00:00.000Z",
        "2025-1-31T10:57:09.000Z", "2025-01-31T10:57:09.000z", "２025-01-31T10:57:09.000Z",
    ])
    func strict(text: String) {
        #expect(throws: TimeFormatError.self) { try Timestamp(canonical: text) }
    }

    @Test("Dates: leap years and days since epoch")
    func dates() throws {
        #expect(LocalDate(year: 2024, month: 2, day: 29) != nil)
        #expect(LocalDate(year: 2100, month: 2, day: 29) == nil)
        #expect(LocalDate(year: 2000, month: 2, day: 29) != nil)
        #expect(try LocalDate("2026-02-18").daysSinceEpoch == 20502)
        #expect(LocalDate(daysSinceEpoch: 20502).description == "2026-02-18")
        #expect(throws: TimeFormatError.self) { try LocalDate("2026-13-01") }
        #expect(throws: TimeFormatError.self) { try LocalDate("2026-02-18T00") }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
