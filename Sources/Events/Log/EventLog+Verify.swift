import LMDB

/// One way the stored log disagrees with itself, as found by `EventLog.verifyStorage`.
public enum StorageInconsistency: Sendable, Hashable, CustomStringConvertible {
    /// Seqs must run 1, 2, 3 …; the next key found was `found`.
    case seqGap(expected: UInt64, found: UInt64)
    /// The record at `seq` cannot be decoded (bad header, bad frame, missing dictionary).
    case undecodable(seq: UInt64, reason: String)
    /// The id stored in record `seq` is not found through the id index.
    case missingIndexEntry(seq: UInt64, id: EventID)
    /// The id index sends the id of record `seq` to another seq.
    case indexPointsElsewhere(seq: UInt64, id: EventID, indexedSeq: UInt64)
    /// An index entry (`key` in hex) names a seq whose record is absent or carries another id.
    case danglingIndexEntry(key: String, seq: UInt64)
    /// Re-hashing the canonical JSON of record `seq` does not give its stored id.
    case idMismatch(seq: UInt64, stored: EventID, recomputed: EventID?)
    /// A byte counter in the meta database disagrees with the records.
    case counterMismatch(name: String, recorded: UInt64, actual: UInt64)

    public var description: String {
        switch self {
        case .seqGap(let expected, let found):
            return "seq gap: expected \(expected), found \(found)"
        case .undecodable(let seq, let reason):
            return "event \(seq) cannot be decoded: \(reason)"
        case .missingIndexEntry(let seq, let id):
            return "event \(seq) (\(id)) is missing from the id index"
        case .indexPointsElsewhere(let seq, let id, let indexedSeq):
            return "event \(seq) (\(id)) is indexed as seq \(indexedSeq)"
        case .danglingIndexEntry(let key, let seq):
            return "id index entry \(key) points to seq \(seq), which does not hold that id"
        case .idMismatch(let seq, let stored, let recomputed):
            return "event \(seq) is stored as \(stored) but its content hashes to \(recomputed.map(\.hex) ?? "nothing (not a valid envelope)")"
        case .counterMismatch(let name, let recorded, let actual):
            return "meta counter \(name) says \(recorded), the records add up to \(actual)"
        }
    }
}

extension EventLog {
    /// Checks the whole log in one snapshot: seqs dense from 1, every record decodes, every
    /// record is found through the id index and every index entry names a record with that
    /// id, byte counters add up; with `rehash`, every record's content hashes to its id.
    /// Returns the problems found (empty when the log is sound).
    public func verifyStorage(rehash: (([UInt8]) -> EventID?)? = nil) throws -> [StorageInconsistency] {
        let store = try store()
        var problems: [StorageInconsistency] = []
        var decoder = try RecordDecoder(dictionaries: store.dictionaries, meta: store.meta)
        try store.read("verify storage") { txn in
            var expected: UInt64 = 1
            var storedBytes: UInt64 = 0
            var rawBytes: UInt64 = 0
            try txn.forEach(in: store.events) { key, value in
                guard let seq = LogFormat.integer(key, as: UInt64.self) else {
                    problems.append(.undecodable(seq: 0, reason: "events key of \(key.count) bytes"))
                    return true
                }
                if seq != expected { problems.append(.seqGap(expected: expected, found: seq)) }
                expected = seq + 1
                storedBytes += UInt64(value.count)
                do {
                    let (id, json) = try decoder.decode(seq: seq, value: value, in: txn) { id, json in
                        (EventID(bytes: Array(id))!, Array(json))
                    }
                    rawBytes += UInt64(json.count)
                    if let rehash {
                        let recomputed = rehash(json)
                        if recomputed != id { problems.append(.idMismatch(seq: seq, stored: id, recomputed: recomputed)) }
                    }
                    switch try store.seq(of: id, txn) {
                    case nil: problems.append(.missingIndexEntry(seq: seq, id: id))
                    case let indexed? where indexed != seq: problems.append(.indexPointsElsewhere(seq: seq, id: id, indexedSeq: indexed))
                    case _?: break
                    }
                } catch let error as EventLogError {
                    problems.append(.undecodable(seq: seq, reason: error.underlying.map { "\(error.message): \($0)" } ?? error.message))
                }
                return true
            }
            for (database, isPrefix) in [(store.ids, true), (store.collisions, false)] {
                try txn.forEach(in: database) { key, value in
                    let keyHex = key.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                    guard let seq = LogFormat.integer(value, as: UInt64.self) else {
                        problems.append(.danglingIndexEntry(key: keyHex, seq: 0))
                        return true
                    }
                    let matches = try LogFormat.withSeqKey(seq) { seqKey in
                        try txn.withValue(for: seqKey, in: store.events) { record -> Bool in
                            guard let record, record.count >= LogFormat.recordHeaderSize else { return false }
                            let id = record[1..<LogFormat.recordHeaderSize]
                            return isPrefix ? id.starts(with: key) && key.count == LogFormat.idPrefixSize : id.elementsEqual(key)
                        }
                    }
                    if !matches { problems.append(.danglingIndexEntry(key: keyHex, seq: seq)) }
                    return true
                }
            }
            let recordedStored = LogFormat.integer(try txn.get(LogFormat.MetaKey.storedBytes, in: store.meta), as: UInt64.self) ?? 0
            let recordedRaw = LogFormat.integer(try txn.get(LogFormat.MetaKey.rawBytes, in: store.meta), as: UInt64.self) ?? 0
            if recordedStored != storedBytes {
                problems.append(.counterMismatch(name: "storedBytes", recorded: recordedStored, actual: storedBytes))
            }
            if recordedRaw != rawBytes && !problems.contains(where: { if case .undecodable = $0 { true } else { false } }) {
                problems.append(.counterMismatch(name: "rawBytes", recorded: recordedRaw, actual: rawBytes))
            }
        }
        return problems
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
