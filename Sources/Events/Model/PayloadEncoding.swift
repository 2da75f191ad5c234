/// An `Encoder` producing `JSONValue`; nil optionals are omitted, integers must fit a double exactly.
final class PayloadEncoding: Encoder {
    /// A node under construction.
    final class Box {
        enum Kind {
            case empty
            case value(JSONValue)
            case object([(String, Box)])
            case array([Box])
        }
        var kind: Kind = .empty

        func finish() -> JSONValue {
            switch kind {
            case .empty: return .object(JSONObject())
            case .value(let v): return v
            case .object(let members): return .object(JSONObject(members.map { JSONObject.Member($0.0, $0.1.finish()) }))
            case .array(let elements): return .array(elements.map { $0.finish() })
            }
        }
    }

    /// Where this encoder sits under its parent: a member name or an array index.
    enum Step {
        case root
        case member(any CodingKey)
        case element(Int)
    }

    let box: Box
    /// The parent and step, from which `codingPath` is built only when asked (errors, custom
    /// encoders): building it for every member would cost an array per member.
    let parent: PayloadEncoding?
    let step: Step
    let userInfo: [CodingUserInfoKey: Any] = [:]

    init(box: Box, parent: PayloadEncoding?, step: Step) {
        self.box = box
        self.parent = parent
        self.step = step
    }

    var codingPath: [any CodingKey] {
        var path: [any CodingKey] = []
        var node: PayloadEncoding? = self
        while let current = node {
            switch current.step {
            case .root: break
            case .member(let key): path.append(key)
            case .element(let index): path.append(AnyKey(index: index))
            }
            node = current.parent
        }
        return path.reversed()
    }

    static func encode<T: Encodable>(_ value: T) throws(PayloadError) -> JSONValue {
        let box = Box()
        do {
            try value.encode(to: PayloadEncoding(box: box, parent: nil, step: .root))
        } catch let error as PayloadError {
            throw error
        } catch {
            throw PayloadError(path: "", detail: "\(error)")
        }
        return box.finish()
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = box.kind {} else { box.kind = .object([]) }
        return KeyedEncodingContainer(Keyed<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = box.kind {} else { box.kind = .array([]) }
        return Unkeyed(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(encoder: self) }

    func appendMember(_ key: any CodingKey) -> PayloadEncoding {
        let child = Box()
        if case .object(var members) = box.kind {
            box.kind = .empty
            members.append((key.stringValue, child))
            box.kind = .object(members)
        }
        return PayloadEncoding(box: child, parent: self, step: .member(key))
    }

    func appendElement() -> PayloadEncoding {
        let child = Box()
        var index = 0
        if case .array(var elements) = box.kind {
            box.kind = .empty
            index = elements.count
            elements.append(child)
            box.kind = .array(elements)
        }
        return PayloadEncoding(box: child, parent: self, step: .element(index))
    }

    func set(_ value: JSONValue) { box.kind = .value(value) }

    func setInteger<T: BinaryInteger>(_ value: T) throws {
        let d = Double(value)
        guard d.magnitude <= maximumExactInteger else {
            throw PayloadError(codingPath: codingPath, detail: "\(value) does not fit a JSON number exactly; carry it as a decimal string")
        }
        set(.number(d))
    }

    func setDouble(_ value: Double) throws {
        guard value.isFinite else { throw PayloadError(codingPath: codingPath, detail: "\(value) has no JSON representation") }
        set(.number(value))
    }

    func encodeValue<T: Encodable>(_ value: T) throws {
        // A metadata comparison, cheaper than a dynamic cast for every nested value.
        if T.self == JSONValue.self, let json = value as? JSONValue {
            set(json)
            return
        }
        try value.encode(to: self)
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: PayloadEncoding
        var codingPath: [any CodingKey] { encoder.codingPath }

        func encodeNil(forKey key: Key) throws {}
        func encode(_ value: Bool, forKey key: Key) throws { encoder.appendMember(key).set(.bool(value)) }
        func encode(_ value: String, forKey key: Key) throws { encoder.appendMember(key).set(.string(value)) }
        func encode(_ value: Double, forKey key: Key) throws { try encoder.appendMember(key).setDouble(value) }
        func encode(_ value: Float, forKey key: Key) throws { try encoder.appendMember(key).setDouble(Double(value)) }
        func encode(_ value: Int, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: Int8, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: Int16, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: Int32, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: Int64, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: UInt, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: UInt8, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: UInt16, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: UInt32, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode(_ value: UInt64, forKey key: Key) throws { try encoder.appendMember(key).setInteger(value) }
        func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try encoder.appendMember(key).encodeValue(value) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            encoder.appendMember(key).container(keyedBy: keyType)
        }

        func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            encoder.appendMember(key).unkeyedContainer()
        }

        func superEncoder() -> any Encoder { encoder }
        func superEncoder(forKey key: Key) -> any Encoder { encoder.appendMember(key) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let encoder: PayloadEncoding
        var codingPath: [any CodingKey] { encoder.codingPath }
        var count: Int {
            if case .array(let elements) = encoder.box.kind { return elements.count }
            return 0
        }

        mutating func encodeNil() throws {
            throw PayloadError(codingPath: codingPath, detail: "null is not allowed in arrays")
        }
        mutating func encode(_ value: Bool) throws { encoder.appendElement().set(.bool(value)) }
        mutating func encode(_ value: String) throws { encoder.appendElement().set(.string(value)) }
        mutating func encode(_ value: Double) throws { try encoder.appendElement().setDouble(value) }
        mutating func encode(_ value: Float) throws { try encoder.appendElement().setDouble(Double(value)) }
        mutating func encode(_ value: Int) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: Int8) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: Int16) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: Int32) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: Int64) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: UInt) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: UInt8) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: UInt16) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: UInt32) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode(_ value: UInt64) throws { try encoder.appendElement().setInteger(value) }
        mutating func encode<T: Encodable>(_ value: T) throws { try encoder.appendElement().encodeValue(value) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            encoder.appendElement().container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { encoder.appendElement().unkeyedContainer() }
        mutating func superEncoder() -> any Encoder { encoder.appendElement() }
    }

    struct Single: SingleValueEncodingContainer {
        let encoder: PayloadEncoding
        var codingPath: [any CodingKey] { encoder.codingPath }

        mutating func encodeNil() throws { encoder.set(.null) }
        mutating func encode(_ value: Bool) throws { encoder.set(.bool(value)) }
        mutating func encode(_ value: String) throws { encoder.set(.string(value)) }
        mutating func encode(_ value: Double) throws { try encoder.setDouble(value) }
        mutating func encode(_ value: Float) throws { try encoder.setDouble(Double(value)) }
        mutating func encode(_ value: Int) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: Int8) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: Int16) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: Int32) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: Int64) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: UInt) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: UInt8) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: UInt16) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: UInt32) throws { try encoder.setInteger(value) }
        mutating func encode(_ value: UInt64) throws { try encoder.setInteger(value) }
        mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encodeValue(value) }
    }
}
