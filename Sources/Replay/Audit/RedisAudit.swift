import Crypto
import Events
import Projections
import Redis

/// One Redis value in canonical form, with what the audit shows of it.
struct RedisValue: Sendable {
    /// Key name relative to the namespace prefix.
    let key: [UInt8]
    let keyHash: Int64
    let valueHash: (xor: Int64, sum: UInt64)
    let fields: [String: String?]
    let seq: String?
    let eventID: String?
}

/// Reads key families under one prefix: SCAN with MATCH, then pipelined TYPE and typed
/// reads (GET, HGETALL, SMEMBERS, ZRANGE … WITHSCORES, LRANGE), hashed client side because
/// Redis cannot hash a value server side cheaply.
struct RedisAuditSession: Sendable {
    let connection: RedisConnection
    let prefix: String
    let options: AuditOptions
    static let scheme = "tickfold-audit/redis-sha256/v1"
    let excludedFieldBytes: Set<[UInt8]>
    let seqFieldBytes: [[UInt8]]
    let eventIDFieldBytes: [[UInt8]]

    init(connection: RedisConnection, prefix: String, options: AuditOptions) {
        self.connection = connection
        self.prefix = prefix
        self.options = options
        excludedFieldBytes = Set(options.excludedFields.map { Array($0.utf8) })
        seqFieldBytes = options.seqFields.map { Array($0.utf8) }
        eventIDFieldBytes = options.eventIDFields.map { Array($0.utf8) }
    }
    static let batch = 1000

    func run<T>(_ operation: String, _ body: () throws -> T) throws(AuditError) -> T {
        do {
            return try body()
        } catch let error as RedisError {
            throw AuditError(.redis, operation: operation, message: error.description, underlying: error)
        } catch let error as AuditError {
            throw error
        } catch {
            throw AuditError(.redis, operation: operation, message: "\(error)")
        }
    }

    /// Every key of `family` (relative names, each once), in SCAN order.
    func keys(of family: String) throws(AuditError) -> [[UInt8]] {
        let pattern = Array(RedisLayout.escapedGlob(prefix).utf8) + Array(family.utf8)
        let prefixLength = prefix.utf8.count
        return try run("scan \(prefix)\(family)") {
            var seen = Set<[UInt8]>()
            var keys: [[UInt8]] = []
            var cursor = "0"
            repeat {
                let reply = try connection.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
                guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let batch = parts[1].array else {
                    throw AuditError(.redis, operation: "scan", message: "unexpected SCAN reply \(reply)")
                }
                for element in batch {
                    guard let key = element.bytes, key.count >= prefixLength else { continue }
                    let relative = Array(key[prefixLength...])
                    if seen.insert(relative).inserted { keys.append(relative) }
                }
                cursor = next
            } while cursor != "0"
            return keys
        }
    }

    /// The canonical values of `keys`, in pipelined batches; keys that vanished meanwhile
    /// are left out. Without `showing`, only hashes and the seq are kept (the digest pass).
    func values(of keys: [[UInt8]], showing: Bool = true) throws(AuditError) -> [RedisValue] {
        try run("read values under \(prefix)") {
            var values: [RedisValue] = []
            values.reserveCapacity(keys.count)
            let prefixBytes = Array(prefix.utf8)
            var start = 0
            while start < keys.count {
                let chunk = keys[start..<min(start + Self.batch, keys.count)]
                start += chunk.count
                let types = try connection.pipeline(chunk.map { ["TYPE", prefixBytes + $0] })
                var reads: [[any RedisArgument]] = []
                var readKeys: [([UInt8], String)] = []
                for (key, type) in zip(chunk, types) {
                    let full = prefixBytes + key
                    guard let type = type.string else { continue }
                    switch type {
                    case "string": reads.append(["GET", full])
                    case "hash": reads.append(["HGETALL", full])
                    case "set": reads.append(["SMEMBERS", full])
                    case "zset": reads.append(["ZRANGE", full, "0", "-1", "WITHSCORES"])
                    case "list": reads.append(["LRANGE", full, "0", "-1"])
                    case "none": continue
                    default: reads.append(["EXISTS", full])
                    }
                    readKeys.append((key, type))
                }
                let replies = try connection.pipeline(reads)
                for ((key, type), reply) in zip(readKeys, replies) {
                    if let message = reply.errorMessage {
                        throw AuditError(.redis, operation: "read \(String(decoding: key, as: UTF8.self))", message: message)
                    }
                    if reply.isNull { continue }
                    values.append(canonical(key: key, type: type, reply: reply, showing: showing))
                }
            }
            return values
        }
    }

    /// Hashes a value: relative key, type, then the type's elements in a fixed order (hash
    /// fields and set members sorted, operational hash fields left out, lists in order).
    /// `showing` keeps every field as text for listing a difference.
    func canonical(key: [UInt8], type: String, reply: RedisReply, showing: Bool) -> RedisValue {
        var encoding: [UInt8] = []
        func append(_ bytes: [UInt8]) {
            var length = UInt32(bytes.count).bigEndian
            withUnsafeBytes(of: &length) { encoding.append(contentsOf: $0) }
            encoding.append(contentsOf: bytes)
        }
        append(key)
        append(Array(type.utf8))
        var fields: [String: String?] = [:]
        var seq: String?
        var eventID: String?
        let elements = reply.array?.map { $0.bytes ?? [] } ?? []
        switch type {
        case "string":
            // Hashed as the bytes stored; a JSON object (the `latest:*` layout) is shown
            // member by member and names its writer through its guard members.
            let bytes = reply.bytes ?? []
            append(bytes)
            if bytes.first == UInt8(ascii: "{"), let object = (try? JSONValue.parse(bytes))?.objectValue {
                seq = options.seqFields.lazy.compactMap { object[$0].flatMap(Self.text) }.first
                eventID = options.eventIDFields.lazy.compactMap { object[$0].flatMap(Self.text) }.first
                if showing {
                    for member in object.members { fields[member.key] = .some(Self.text(member.value)) }
                }
            } else if showing {
                fields["value"] = String(decoding: bytes, as: UTF8.self)
            }
        case "hash", "zset":
            var pairs: [([UInt8], [UInt8])] = []
            var index = 0
            while index + 1 < elements.count {
                pairs.append((elements[index], elements[index + 1]))
                index += 2
            }
            pairs.sort { $0.0.lexicographicallyPrecedes($1.0) }
            for (field, value) in pairs {
                if type == "hash" && excludedFieldBytes.contains(field) { continue }
                append(field)
                append(value)
                if showing { fields[String(decoding: field, as: UTF8.self)] = String(decoding: value, as: UTF8.self) }
            }
            if type == "hash" {
                let byName = Dictionary(pairs, uniquingKeysWith: { first, _ in first })
                seq = seqFieldBytes.lazy.compactMap { byName[$0].map { String(decoding: $0, as: UTF8.self) } }.first
                if showing {
                    eventID = eventIDFieldBytes.lazy.compactMap { byName[$0].map { String(decoding: $0, as: UTF8.self) } }.first
                }
            }
        case "set":
            for member in elements.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                append(member)
                if showing { fields[String(decoding: member, as: UTF8.self)] = .some(nil) }
            }
        case "list":
            for (index, element) in elements.enumerated() {
                append(element)
                if showing { fields[String(index)] = String(decoding: element, as: UTF8.self) }
            }
        default:
            break
        }
        let valueDigest = SHA256.hash(data: encoding)
        return RedisValue(
            key: key, keyHash: Self.keyHash(key),
            valueHash: (Self.int64(valueDigest, 0), UInt64(bitPattern: Self.int64(valueDigest, 8))),
            fields: fields, seq: seq, eventID: eventID)
    }

    /// A JSON member as text: a string as it is, an integer in decimal, null as nil, anything
    /// else in canonical JSON.
    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .number(let number) where number.rounded(.towardZero) == number && number.magnitude <= 9_007_199_254_740_991:
            return String(Int64(number))
        case .null: return nil
        case .number, .bool, .array, .object: return value.description
        }
    }

    /// The family's leaves at `bits`: every key's value is read and hashed client side.
    func leaves(of family: String, bits: Int) throws(AuditError) -> LeafLevel {
        let keys = try keys(of: family)
        var xors: [Int64: (count: Int64, xor: Int64, sum: UInt64)] = [:]
        var maxSeq: Int64?
        var start = 0
        while start < keys.count {
            let chunk = Array(keys[start..<min(start + 10 * Self.batch, keys.count)])
            start += chunk.count
            for value in try values(of: chunk, showing: false) {
                let bucket = value.keyHash >> Int64(64 - bits)
                var leaf = xors[bucket] ?? (0, 0, 0)
                leaf.count += 1
                leaf.xor ^= value.valueHash.xor
                leaf.sum &+= value.valueHash.sum
                xors[bucket] = leaf
                if let text = value.seq, let seq = Int64(text) ?? Double(text).map({ Int64($0) }) {
                    maxSeq = max(maxSeq ?? seq, seq)
                }
            }
        }
        return LeafLevel(
            bits: bits,
            leaves: xors.mapValues { Leaf(count: $0.count, xor: $0.xor, sum: $0.sum) },
            maxSeq: maxSeq)
    }

    /// The values of the family's keys that fall in `buckets` at `bits`: a SCAN ships key
    /// names only, values are read for the chosen buckets.
    func values(of family: String, bits: Int, buckets: Set<Int64>) throws(AuditError) -> [RedisValue] {
        let chosen = try keys(of: family).filter { key in
            buckets.contains(Self.keyHash(key) >> Int64(64 - bits))
        }
        return try values(of: chosen)
    }

    /// The first 64 bits of the key name's SHA-256: where the key sits in the tree.
    static func keyHash(_ key: [UInt8]) -> Int64 {
        int64(SHA256.hash(data: key), 0)
    }

    /// Eight digest bytes from `offset` as a big-endian integer, read in place.
    static func int64(_ digest: SHA256.Digest, _ offset: Int) -> Int64 {
        digest.withUnsafeBytes { bytes in
            var value: UInt64 = 0
            for index in offset..<offset + 8 { value = value << 8 | UInt64(bytes[index]) }
            return Int64(bitPattern: value)
        }
    }
}
