/// A strict `Decoder` over `JSONValue`: exact types, integers only where integers are declared,
/// unknown object members refused; errors are `PayloadError`s naming the field path.
final class PayloadDecoding: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any] = [:]
    /// Objects opened as keyed containers, checked for unknown members after decoding.
    let audit: Audit

    /// Every keyed container records which keys the type asked for.
    final class Audit {
        final class Opened {
            let object: JSONObject
            let path: [any CodingKey]
            var asked: Set<String> = []
            init(object: JSONObject, path: [any CodingKey]) {
                self.object = object
                self.path = path
            }
        }
        var opened: [Opened] = []
    }

    init(value: JSONValue, codingPath: [any CodingKey], audit: Audit) {
        self.value = value
        self.codingPath = codingPath
        self.audit = audit
    }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws(PayloadError) -> T {
        let audit = Audit()
        let decoder = PayloadDecoding(value: value, codingPath: [], audit: audit)
        let result: T
        do {
            result = try T(from: decoder)
        } catch let error as PayloadError {
            throw error
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
                throw PayloadError(codingPath: context.codingPath, detail: context.debugDescription)
            @unknown default:
                throw PayloadError(path: "", detail: "\(error)")
            }
        } catch {
            throw PayloadError(path: "", detail: "\(error)")
        }
        for opened in audit.opened {
            for member in opened.object.members where !opened.asked.contains(member.key) {
                throw PayloadError(codingPath: opened.path + [AnyKey(member.key)], detail: "unknown field")
            }
        }
        return result
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else {
            throw PayloadError(codingPath: codingPath, detail: "expected an object, found \(value.kindDescription)")
        }
        let opened = Audit.Opened(object: object, path: codingPath)
        audit.opened.append(opened)
        return KeyedDecodingContainer(Keyed<Key>(decoder: self, object: object, opened: opened))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else {
            throw PayloadError(codingPath: codingPath, detail: "expected an array, found \(value.kindDescription)")
        }
        return Unkeyed(decoder: self, elements: elements)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    func child(_ value: JSONValue, key: any CodingKey) -> PayloadDecoding {
        PayloadDecoding(value: value, codingPath: codingPath + [key], audit: audit)
    }

    func mismatch(_ expected: String) -> PayloadError {
        PayloadError(codingPath: codingPath, detail: "expected \(expected), found \(value.kindDescription)")
    }

    func decodeBool() throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch("true or false") }
        return b
    }

    func decodeString() throws -> String {
        guard case .string(let s) = value else { throw mismatch("a string") }
        return s
    }

    func decodeDouble() throws -> Double {
        guard case .number(let d) = value else { throw mismatch("a number") }
        return d
    }

    func decodeInteger<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard case .number(let d) = value, d.rounded(.towardZero) == d, d.magnitude <= maximumExactInteger,
              let result = T(exactly: d)
        else { throw mismatch("an integer") }
        return result
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        return try T(from: self)
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: PayloadDecoding
        let object: JSONObject
        let opened: Audit.Opened

        var codingPath: [any CodingKey] { decoder.codingPath }
        var allKeys: [Key] { object.members.compactMap { Key(stringValue: $0.key) } }

        func contains(_ key: Key) -> Bool {
            opened.asked.insert(key.stringValue)
            return object[key.stringValue] != nil
        }

        private func child(_ key: Key) throws -> PayloadDecoding {
            opened.asked.insert(key.stringValue)
            guard let value = object[key.stringValue] else {
                throw PayloadError(codingPath: decoder.codingPath + [key], detail: "required field is missing")
            }
            return decoder.child(value, key: key)
        }

        func decodeNil(forKey key: Key) throws -> Bool {
            opened.asked.insert(key.stringValue)
            guard let value = object[key.stringValue] else { return true }
            if case .null = value {
                throw PayloadError(codingPath: decoder.codingPath + [key], detail: "absent optional fields are omitted, not null")
            }
            return false
        }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decodeBool() }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decodeString() }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decodeDouble() }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try child(key).decodeDouble()) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decodeInteger(Int.self) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decodeInteger(Int8.self) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decodeInteger(Int16.self) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decodeInteger(Int32.self) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decodeInteger(Int64.self) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decodeInteger(UInt.self) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decodeInteger(UInt8.self) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decodeInteger(UInt16.self) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decodeInteger(UInt32.self) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decodeInteger(UInt64.self) }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(T.self) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try child(key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try child(key).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let decoder: PayloadDecoding
        let elements: [JSONValue]
        var currentIndex = 0

        init(decoder: PayloadDecoding, elements: [JSONValue]) {
            self.decoder = decoder
            self.elements = elements
        }

        var codingPath: [any CodingKey] { decoder.codingPath }
        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        private mutating func next() throws -> PayloadDecoding {
            guard !isAtEnd else {
                throw PayloadError(codingPath: decoder.codingPath + [AnyKey(index: currentIndex)], detail: "array ended early")
            }
            let child = decoder.child(elements[currentIndex], key: AnyKey(index: currentIndex))
            currentIndex += 1
            return child
        }

        mutating func decodeNil() throws -> Bool {
            if !isAtEnd, case .null = elements[currentIndex] {
                throw PayloadError(codingPath: decoder.codingPath + [AnyKey(index: currentIndex)], detail: "null is not allowed in arrays")
            }
            return false
        }

        mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decodeBool() }
        mutating func decode(_ type: String.Type) throws -> String { try next().decodeString() }
        mutating func decode(_ type: Double.Type) throws -> Double { try next().decodeDouble() }
        mutating func decode(_ type: Float.Type) throws -> Float { Float(try next().decodeDouble()) }
        mutating func decode(_ type: Int.Type) throws -> Int { try next().decodeInteger(Int.self) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decodeInteger(Int8.self) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decodeInteger(Int16.self) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decodeInteger(Int32.self) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decodeInteger(Int64.self) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decodeInteger(UInt.self) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decodeInteger(UInt8.self) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decodeInteger(UInt16.self) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decodeInteger(UInt32.self) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decodeInteger(UInt64.self) }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(T.self) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: PayloadDecoding
        var codingPath: [any CodingKey] { decoder.codingPath }

        func decodeNil() -> Bool {
            if case .null = decoder.value { return true }
            return false
        }

        func decode(_ type: Bool.Type) throws -> Bool { try decoder.decodeBool() }
        func decode(_ type: String.Type) throws -> String { try decoder.decodeString() }
        func decode(_ type: Double.Type) throws -> Double { try decoder.decodeDouble() }
        func decode(_ type: Float.Type) throws -> Float { Float(try decoder.decodeDouble()) }
        func decode(_ type: Int.Type) throws -> Int { try decoder.decodeInteger(Int.self) }
        func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decodeInteger(Int8.self) }
        func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decodeInteger(Int16.self) }
        func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decodeInteger(Int32.self) }
        func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decodeInteger(Int64.self) }
        func decode(_ type: UInt.Type) throws -> UInt { try decoder.decodeInteger(UInt.self) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decodeInteger(UInt8.self) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decodeInteger(UInt16.self) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decodeInteger(UInt32.self) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decodeInteger(UInt64.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(T.self) }
    }
}

/// A coding key built at run time (array indexes, unknown member names).
struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    init(index: Int) {
        stringValue = "\(index)"
        intValue = index
    }

    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { self.init(index: intValue) }
}

extension JSONValue {
    /// Decodes `T` as payloads are decoded: exact types, unknown object members refused, and
    /// errors naming the member path (`sources.finnhub.limits.maxWiat: unknown field`). For
    /// configuration, where a misspelt key must not fall back to a default silently.
    public func decodeStrictly<T: Decodable>(as type: T.Type) throws(PayloadError) -> T {
        try PayloadDecoding.decode(type, from: self)
    }
}
