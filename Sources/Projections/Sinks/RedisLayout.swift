import Events

/// Names, value format and scripts of the Redis layout (`schemas/redis.md`).
public enum RedisLayout {
    /// Channel (after the namespace) announcing changed `latest:*` keys.
    public static let keyChannel = "tickfold:keys"
    /// The guard members every `latest:*` value starts with.
    public static let eventIDMember = "_event_id"
    public static let seqMember = "_seq"

    /// Glob patterns (after the prefix) of the seq-guarded key families.
    public static let keyFamilies = ["latest:*"]

    /// A projection's marker key, after the active prefix: written with every batch, so a
    /// checkpoint without it means Redis lost the keys (`RedisKeysState`). Never a prefix of a
    /// key family, like the namespace pointer beside it.
    public static func markerKey(projection: String) -> String { "tickfold:projected:" + projection }

    /// `text` with glob metacharacters escaped, so a prefix matches only itself in SCAN MATCH.
    public static func escapedGlob(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// The largest integer a JSON number carries exactly (I-JSON), for seqs and integer members.
    public static let maximumExactInteger: UInt64 = 9_007_199_254_740_991

    /// What every value written by the sink starts with: `{"_event_id":"` (then 64 hex digits).
    static let valueHead = Array(#"{"_event_id":""#.utf8)
    /// What follows the event id: `","_seq":` (then the seq's digits).
    static let seqHead = Array(#"","_seq":"#.utf8)
    /// Where the seq's digits start, 1-based as Lua counts.
    static let seqOffset = valueHead.count + 64 + seqHead.count + 1

    /// The value of a `latest:*` key: the RFC 8785 canonical JSON object of `fields` and the
    /// guard members. Canonical order sorts members by UTF-16 code units, and `_` (0x5F)
    /// precedes the lowercase letters every field name starts with, so the value always
    /// begins `{"_event_id":"<64 hex>","_seq":<seq>` and the key script reads the stored seq
    /// at a fixed offset without decoding JSON.
    public static func value(fields: [RedisField], seq: UInt64, eventID: EventID) -> [UInt8] {
        precondition(seq <= maximumExactInteger, "seq \(seq) is not exact as a JSON number")
        var fields = fields
        if !isStrictlySorted(fields) {
            fields.sort { CanonicalJSONWriter.keyPrecedes($0.name, $1.name) }
            precondition(isStrictlySorted(fields), "a latest:* value names a member twice: \(fields.map(\.name))")
        }
        var capacity = valueHead.count + 64 + seqHead.count + 17
        for field in fields {
            capacity += field.name.utf8.count + 4
            switch field.value {
            case .string(let text): capacity += text.utf8.count + 2
            case .integer: capacity += 17
            }
        }
        var writer = CanonicalJSONWriter(capacity: capacity)
        writer.appendByte(UInt8(ascii: "{"))
        writer.writeString(eventIDMember)
        writer.appendByte(UInt8(ascii: ":"))
        writer.writeEventID(eventID)
        writer.appendByte(UInt8(ascii: ","))
        writer.writeString(seqMember)
        writer.appendByte(UInt8(ascii: ":"))
        writer.writeInteger(Int64(seq))
        for field in fields {
            writer.appendByte(UInt8(ascii: ","))
            writer.writeString(field.name)
            writer.appendByte(UInt8(ascii: ":"))
            switch field.value {
            case .string(let text): writer.writeString(text)
            case .integer(let number): writer.writeInteger(number)
            }
        }
        writer.appendByte(UInt8(ascii: "}"))
        return writer.bytes
    }

    private static func isStrictlySorted(_ fields: [RedisField]) -> Bool {
        var index = 1
        while index < fields.count {
            guard CanonicalJSONWriter.keyPrecedes(fields[index - 1].name, fields[index].name) else { return false }
            index += 1
        }
        return true
    }

    /// Lua defining `stored_seq(key)`: the `_seq` of the value at `key`, nil when the key
    /// does not exist, or nil and an error message naming the key when it holds something
    /// the sink did not write.
    ///
    /// The seq is read at a fixed offset: every value the sink writes starts with the guard
    /// members, so `","_seq":` and the digits follow the event id at byte 79 (in Lua 5.1,
    /// the version in Redis, `^` anchors a pattern at the `init` position). A value without
    /// them there is searched for `"_seq":` digits, so a JSON value with the guard written in
    /// another member order still guards (in valid JSON those bytes can only be a `_seq`
    /// member: quotes inside strings are escaped). A string without them, or a key of
    /// another type (a hash, the layout of `collected@v1`), is refused rather than
    /// overwritten.
    public static let storedSeqFunction = """
        local function stored_seq(key)
          local current = redis.pcall('GET', key)
          if not current then return nil end
          if type(current) ~= 'string' then
            return nil, 'key ' .. key .. ' holds a ' .. redis.call('TYPE', key)['ok'] .. ', not a latest:* JSON string (a hash of the layout of collected@v1?): rebuild the keys with `tickfold replay --from 1`, or delete the key'
          end
          local seq = tonumber(string.match(current, '^\(String(decoding: seqHead, as: UTF8.self))(%d+)', \(seqOffset - seqHead.count)) or string.match(current, '"_seq":(%d+)'))
          if not seq then
            return nil, 'key ' .. key .. ' holds a string without a "_seq" member, not a value Tickfold wrote: delete it or rebuild the keys with `tickfold replay --from 1`'
          end
          return seq
        end
        """

    /// The error code a script answers with when the namespace pointer no longer names the
    /// prefix its keys were written under (a replay swapped a rebuilt namespace in).
    static let movedCode = "TICKFOLD_MOVED"

    /// The start of both write scripts: KEYS[1] is the namespace pointer, ARGV[1] the prefix
    /// the call's keys carry and ARGV[2] the prefix that applies without a pointer. When the
    /// pointer names another prefix the call writes nothing and answers `movedCode`, so a key
    /// never lands in a namespace a swap has retired.
    private static let namespaceCheck = """
        if (redis.call('GET', KEYS[1]) or ARGV[2]) ~= ARGV[1] then
          return redis.error_reply('\(movedCode) the namespace pointer ' .. KEYS[1] .. ' moved away from ' .. ARGV[1])
        end

        """

    /// KEYS = the namespace pointer, then the keys (distinct); ARGV = the namespace check's
    /// two prefixes, the channel ('' = none), then per key its seq and its value. Reads every
    /// stored value with one MGET, checks them all, then writes each value whose key is
    /// missing or holds a lower `_seq` with one MSET and announces each; returns how many it
    /// wrote. A key `stored_seq` would refuse (another type, a foreign string) stops the call
    /// before anything is written. One MGET and one MSET instead of a GET and a SET per key:
    /// a call from Lua costs about as much as the data it moves (BENCHMARKS.md, "Redis").
    static let keyScript = namespaceCheck + storedSeqFunction + """

        local channel = ARGV[3]
        local count = #KEYS - 1
        local stored = redis.call('MGET', unpack(KEYS, 2))
        local absent = {}
        for i = 1, count do
          if not stored[i] then absent[#absent + 1] = KEYS[i + 1] end
        end
        -- MGET answers nil for a missing key and for one of another type: tell them apart.
        if #absent > 0 and redis.call('EXISTS', unpack(absent)) > 0 then
          for _, key in ipairs(absent) do
            local _, refusal = stored_seq(key)
            if refusal then return redis.error_reply(refusal) end
          end
        end
        local writes = {}
        for i = 1, count do
          local seq = nil
          if stored[i] then
            seq = tonumber(string.match(stored[i], '^\(String(decoding: seqHead, as: UTF8.self))(%d+)', \(seqOffset - seqHead.count)) or string.match(stored[i], '"_seq":(%d+)'))
            if not seq then
              local _, refusal = stored_seq(KEYS[i + 1])
              return redis.error_reply(refusal)
            end
          end
          if not seq or seq < tonumber(ARGV[2 + 2 * i]) then
            writes[#writes + 1] = KEYS[i + 1]
            writes[#writes + 1] = ARGV[3 + 2 * i]
          end
        end
        if #writes == 0 then return 0 end
        redis.call('MSET', unpack(writes))
        if channel ~= '' then
          for j = 1, #writes, 2 do redis.call('PUBLISH', channel, writes[j]) end
        end
        return #writes / 2
        """

    /// The error code the marker script answers with when a marker that must exist is gone.
    static let lostCode = "TICKFOLD_LOST"
    /// The error code the marker script answers with when a marker holds an older batch count
    /// than the batch allows (a Redis restored from an older snapshot), followed by that count
    /// and the key.
    static let staleCode = "TICKFOLD_STALE"
    /// The value a marker found gone is set to: the batch that found it wrote its keys into
    /// the emptied Redis (the calls before the marker's in its pipeline), and those must not
    /// pass for keys written before markers existed (`RedisKeysState.unmarked`) at the next start.
    public static let lostMarkerValue = "lost"

    /// A marker's value: the projection's label, then the batch count its batch committed in
    /// PostgreSQL (`projection_batches`), as in `collected@v4 17`; the label alone without a count.
    public static func markerValue(label: String, batch: Int64?) -> String {
        batch.map { label + " " + String($0) } ?? label
    }

    /// The batch count a marker's value carries; nil for a value without one (a label written
    /// by a build from before the count, or `lostMarkerValue`).
    public static func markerBatch(_ value: String) -> Int64? {
        guard let space = value.lastIndex(of: " ") else { return nil }
        let digits = value[value.index(after: space)...]
        guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int64(digits)
    }

    /// KEYS = the namespace pointer, then one marker key per projection; ARGV = the namespace
    /// check's two prefixes, then per marker `1` when it must already exist (else `0`), the
    /// lowest batch count it may hold ('' = any) and its value ('' = leave it as it is).
    /// Checks every marker before writing any: one that must exist and is gone (or already
    /// marked lost) is set to `lostMarkerValue` and the call answers `lostCode` with its key;
    /// one that must exist and holds a lower count answers `staleCode` with the count and key,
    /// and is left as it is (its count stays older than PostgreSQL's, so the next start
    /// refuses too); a value without a count passes (written before counts). Else it sets them
    /// all and returns 0.
    static let markerScript = namespaceCheck + """
        for i = 2, #KEYS do
          if ARGV[3 * i - 3] == '1' then
            local current = redis.call('GET', KEYS[i])
            if not current or current == '\(lostMarkerValue)' then
              redis.call('SET', KEYS[i], '\(lostMarkerValue)')
              return redis.error_reply('\(lostCode) ' .. KEYS[i])
            end
            local minimum = tonumber(ARGV[3 * i - 2])
            local batch = tonumber(string.match(current, ' (%d+)$'))
            if minimum and batch and batch < minimum then
              return redis.error_reply('\(staleCode) ' .. string.format('%d', batch) .. ' ' .. KEYS[i])
            end
          end
        end
        for i = 2, #KEYS do
          if ARGV[3 * i - 1] ~= '' then redis.call('SET', KEYS[i], ARGV[3 * i - 1]) end
        end
        return 0
        """

    /// KEYS = the namespace pointer, then one hash per field; ARGV = the namespace check's
    /// two prefixes, then per field its name, value and channel ('' = none). Sets each field
    /// whose value differs and announces it; returns how many it set. A key of another type
    /// is refused with an error naming it (Redis's own WRONGTYPE names neither key nor fix).
    static let derivedScript = namespaceCheck + """
        local changed = 0
        for i = 2, #KEYS do
          local field, value, channel = ARGV[3 * i - 3], ARGV[3 * i - 2], ARGV[3 * i - 1]
          local current = redis.pcall('HGET', KEYS[i], field)
          if type(current) == 'table' and current['err'] then
            return redis.error_reply('key ' .. KEYS[i] .. ' holds a ' .. redis.call('TYPE', KEYS[i])['ok'] .. ', not the hash Tickfold derives: delete it or rebuild the keys with `tickfold replay --from 1`')
          end
          if current ~= value then
            redis.call('HSET', KEYS[i], field, value)
            if channel ~= '' then redis.call('PUBLISH', channel, field) end
            changed = changed + 1
          end
        end
        return changed
        """
}
