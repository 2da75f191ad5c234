import Foundation

/// A fixture directory on disk (layout in FIXTURES.md): finds the recorded response for a
/// request, plays response sequences in order, lists the closest candidates when nothing
/// matches, and records new responses with credentials scrubbed.
public final class FixtureStore: @unchecked Sendable {
    // @unchecked Sendable: `served` is only touched while holding `lock`; the rest is immutable.
    public let root: String
    private let lock = NSLock()
    private var served: [String: Int] = [:]

    /// What a fixture says to do with one request.
    public enum Reply: Sendable {
        case respond(HTTPResponse)
        /// Close the connection without answering: a transport failure for the client.
        case disconnect
    }

    /// The optional `<stem>.meta.json`.
    struct Meta: Codable {
        var status: Int?
        var headers: [String: String]?
        var responses: [Step]?
        struct Step: Codable {
            var status: Int?
            var headers: [String: String]?
            var body: String?
            var fault: String?
        }
    }

    public init(root: String) { self.root = root }

    /// The reply for `key`, or nil when no fixture matches. Throws when a fixture exists but
    /// cannot be read or its meta file is malformed (named in the error).
    public func reply(for key: FixtureKey) throws -> Reply? {
        let directory = key.directory.isEmpty ? root : "\(root)/\(key.directory)"
        let stem = key.stem
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let bodyName = names.sorted().first { FixtureStore.stem(ofBodyFile: $0) == stem }
        let metaName = names.contains("\(stem).meta.json") ? "\(stem).meta.json" : nil
        guard bodyName != nil || metaName != nil else { return nil }
        var meta = Meta()
        if let metaName {
            let path = "\(directory)/\(metaName)"
            guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError("cannot read \(path)") }
            do { meta = try JSONDecoder().decode(Meta.self, from: data) } catch {
                throw FixtureError("malformed fixture meta \(path): \(error)")
            }
        }
        var body: [UInt8] = []
        if let bodyName {
            let path = "\(directory)/\(bodyName)"
            guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError("cannot read \(path)") }
            body = [UInt8](data)
        }
        var headers = HTTPHeaders()
        if let bodyName, let type = FixtureStore.contentType(forExtension: (bodyName as NSString).pathExtension) {
            headers.set("Content-Type", type)
        }
        for (name, value) in (meta.headers ?? [:]).sorted(by: { $0.key < $1.key }) { headers.set(name, value) }
        guard let steps = meta.responses, !steps.isEmpty else {
            return .respond(HTTPResponse(status: meta.status ?? 200, headers: headers, body: body))
        }
        let fixturePath = "\(key.directory)/\(stem)"
        let index: Int = lock.withLock {
            let n = served[fixturePath, default: 0]
            served[fixturePath] = n + 1
            return min(n, steps.count - 1)
        }
        let step = steps[index]
        if let fault = step.fault {
            guard fault == "disconnect" else { throw FixtureError("unknown fault \"\(fault)\" in \(fixturePath).meta.json (known: disconnect)") }
            return .disconnect
        }
        for (name, value) in (step.headers ?? [:]).sorted(by: { $0.key < $1.key }) { headers.set(name, value) }
        return .respond(HTTPResponse(status: step.status ?? meta.status ?? 200, headers: headers, body: step.body.map { Array($0.utf8) } ?? body))
    }

    /// Up to `limit` recorded fixtures closest to `key`, as paths relative to the root: the
    /// same directory first, ranked by shared query pairs; else what the nearest existing
    /// ancestor directory holds.
    public func candidates(for key: FixtureKey, limit: Int = 5) -> [String] {
        var segments = key.segments.map(QueryString.percentEncode)
        while true {
            let relative = segments.joined(separator: "/")
            let directory = relative.isEmpty ? root : "\(root)/\(relative)"
            if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
                let prefix = relative.isEmpty ? "" : relative + "/"
                if segments.count == key.segments.count {
                    var files: [String: String] = [:]
                    for name in names.sorted() {
                        if let stem = FixtureStore.stem(ofBodyFile: name) { files[stem] = name }
                        else if let stem = FixtureStore.stem(ofMetaFile: name), files[stem] == nil { files[stem] = name }
                    }
                    let wanted = Set(key.query)
                    let ranked = files.map { stem, name -> (score: Int, path: String) in
                        let parts = stem.split(separator: "@", maxSplits: 1)
                        let pairs = parts.count > 1 ? Set(QueryString.decode(String(parts[1])).map { FixtureKey.Pair(name: $0.name, value: $0.value) }) : []
                        let score = (parts.first.map(String.init) == key.method ? 100 : 0) + 2 * wanted.intersection(pairs).count - wanted.symmetricDifference(pairs).count
                        return (score, prefix + name)
                    }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.path < $1.path }
                    if !ranked.isEmpty { return Array(ranked.prefix(limit).map(\.path)) }
                }
                return Array(names.sorted().prefix(limit).map { prefix + $0 })
            }
            if segments.isEmpty { return [] }
            segments.removeLast()
        }
    }

    /// Writes `response` as the fixture for `key`: the body as `<stem>.<ext>` and, when the
    /// status is not 200 or rate-limit headers are present, a `<stem>.meta.json`. Text
    /// bodies are passed through `redactor`; every known secret is replaced in binary ones.
    /// Returns the body file's path relative to the root.
    @discardableResult
    public func record(_ response: HTTPResponse, for key: FixtureKey, redactor: Redactor, secrets: [String]) throws -> String {
        let directory = key.directory.isEmpty ? root : "\(root)/\(key.directory)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stem = key.stem
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where FixtureStore.stem(ofBodyFile: name) == stem || name == "\(stem).meta.json" {
            try FileManager.default.removeItem(atPath: "\(directory)/\(name)")
        }
        let type = response.headers["Content-Type"] ?? ""
        let ext = FixtureStore.fileExtension(forContentType: type)
        var body = response.body
        if let text = String(validatingUTF8Bytes: body) {
            body = Array(redactor.redact(text).utf8)
        } else {
            for secret in secrets where !secret.isEmpty { body = FixtureStore.replace(Array(secret.utf8), in: body) }
        }
        let bodyName = "\(stem).\(ext)"
        try AtomicFile.write(body, to: "\(directory)/\(bodyName)")
        var kept: [String: String] = [:]
        for field in response.headers {
            let name = field.name.lowercased()
            if name == "retry-after" || name.hasPrefix("x-rate-limit") || name.hasPrefix("x-ratelimit") || name.hasPrefix("ratelimit") {
                kept[field.name] = redactor.redact(field.value)
            }
        }
        if response.status != 200 || !kept.isEmpty {
            let meta = Meta(status: response.status, headers: kept.isEmpty ? nil : kept, responses: nil)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write([UInt8](try encoder.encode(meta)), to: "\(directory)/\(stem).meta.json")
        }
        return key.directory.isEmpty ? bodyName : "\(key.directory)/\(bodyName)"
    }

    /// The stem of a body file `<stem>.<ext>`; nil for meta files and names without extension.
    static func stem(ofBodyFile name: String) -> String? {
        guard !name.hasSuffix(".meta.json"), !name.hasPrefix("."), let dot = name.lastIndex(of: ".") else { return nil }
        return String(name[..<dot])
    }

    static func stem(ofMetaFile name: String) -> String? {
        name.hasSuffix(".meta.json") ? String(name.dropLast(".meta.json".count)) : nil
    }

    static func contentType(forExtension ext: String) -> String? {
        switch ext.lowercased() {
        case "json": return "application/json"
        case "csv": return "text/csv"
        case "txt": return "text/plain; charset=utf-8"
        case "html": return "text/html; charset=utf-8"
        case "xml": return "application/xml"
        default: return "application/octet-stream"
        }
    }

    static func fileExtension(forContentType type: String) -> String {
        let lower = type.lowercased()
        if lower.contains("json") { return "json" }
        if lower.contains("csv") { return "csv" }
        if lower.contains("html") { return "html" }
        if lower.contains("xml") { return "xml" }
        if lower.hasPrefix("text/") { return "txt" }
        return "bin"
    }

    private static func replace(_ needle: [UInt8], in haystack: [UInt8]) -> [UInt8] {
        guard needle.count <= haystack.count else { return haystack }
        var out: [UInt8] = []
        out.reserveCapacity(haystack.count)
        var i = 0
        while i < haystack.count {
            if i + needle.count <= haystack.count, haystack[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(contentsOf: Redactor.mask.utf8)
                i += needle.count
            } else {
                out.append(haystack[i])
                i += 1
            }
        }
        return out
    }
}

/// A fixture that exists but cannot be used, or a recording that could not be written.
public struct FixtureError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// The bytes as text when they are valid UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var scalars = String.UnicodeScalarView()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self = String(scalars)
    }
}
