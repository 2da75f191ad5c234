import Events

/// Names, value format and scripts of the Redis layout (`schemas/redis.md`).
public enum RedisLayout {
    /// Channel (after the namespace) announcing changed `latest:*` keys.
    public static let keyChannel = "tickfold:keys"
    /// The guard members every `latest:*` value starts with.
    public static let eventIDMember = "_event_id"
    public static let seqMember = "_seq"

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

    /// KEYS = the keys; ARGV = channel ('' = none), then per key its seq and its value.
    /// Writes each value with SET when the key is missing or holds a lower `_seq`, and
    /// announces it; returns how many keys it wrote. A key `stored_seq` refuses stops the
    /// call with its error; keys before it in the call are written (each write is idempotent).
    static let keyScript = storedSeqFunction + """

        local channel = ARGV[1]
        local changed = 0
        for k = 1, #KEYS do
          local key = KEYS[k]
          local stored, refusal = stored_seq(key)
          if refusal then return redis.error_reply(refusal) end
          if not stored or stored < tonumber(ARGV[2 * k]) then
            redis.call('SET', key, ARGV[2 * k + 1])
            if channel ~= '' then redis.call('PUBLISH', channel, key) end
            changed = changed + 1
          end
        end
        return changed
        """

    /// KEYS[1] = hash; ARGV = field, value, channel ('' = none). Sets the field when its
    /// value differs and announces it; returns 1 if it did.
    static let derivedScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[1]) end
        return 1
        """
}
