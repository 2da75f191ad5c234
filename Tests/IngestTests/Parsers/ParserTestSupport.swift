import Events
import Foundation
import Ingest
import Testing

/// The real response samples in the shared data folder (`/work/shared/data`, or
/// `TICKFOLD_SHARED_DATA`). Tests that read them are skipped when the folder is absent.
enum Samples {
    static let root: String? = {
        var candidates: [String] = []
        if let configured = ProcessInfo.processInfo.environment["TICKFOLD_SHARED_DATA"] { candidates.append(configured) }
        // Tests/IngestTests/Parsers/<file> → repository root; /work/shared is `../shared` from
        // the main checkout and `../../shared` from a worktree under /work/wt.
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(repository.appendingPathComponent("../shared/data").standardizedFileURL.path)
        candidates.append(repository.appendingPathComponent("../../shared/data").standardizedFileURL.path)
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/README.md") }
    }()

    static var available: Bool { root != nil }

    /// Why sample tests are skipped, for the `.enabled(if:)` comment.
    static let missingNote: Comment = "shared/data samples not found (set TICKFOLD_SHARED_DATA to the data folder)"

    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String { "sample missing: \(path)" }
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        guard let root else { throw Missing(path: relative) }
        guard let data = FileManager.default.contents(atPath: root + "/" + relative) else { throw Missing(path: root + "/" + relative) }
        return [UInt8](data)
    }

    static let yahooFolder = "api_samples/yahoo_finance/gadicc_node-yahoo-finance2/"

    /// A node-yahoo-finance2 recording `{request, response: {body | bodyJson}}` → the response
    /// body: `body` is the text as received; `bodyJson` (already parsed by the recorder) is
    /// written back as JSON.
    static func yahooBody(_ name: String) throws -> [UInt8] {
        let wrapper = try JSONValue.parse(bytes(yahooFolder + name))
        guard case .object(let object) = wrapper, case .object(let response)? = object["response"] else { throw Missing(path: name + " response") }
        if case .string(let text)? = response["body"] { return Array(text.utf8) }
        guard let json = response["bodyJson"] else { throw Missing(path: name + " body") }
        return try CanonicalJSON.encode(json)
    }

    /// The response bodies in a VCR cassette (Mastodon.py) whose request URI contains
    /// `uriPart`: YAML single-quoted scalars, folded as YAML folds them.
    static func cassetteBodies(_ relative: String, uriContaining uriPart: String) throws -> [[UInt8]] {
        let lines = String(decoding: try bytes(relative), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var bodies: [[UInt8]] = []
        var wanted = false
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("uri: ") { wanted = trimmed.contains(uriPart) }
            if wanted, trimmed.hasPrefix("string: '") {
                var scalar = String(trimmed.dropFirst("string: '".count))
                var pieces: [String] = []
                while true {
                    if let end = closingQuote(scalar) {
                        pieces.append(String(scalar[..<end]))
                        break
                    }
                    pieces.append(scalar)
                    index += 1
                    guard index < lines.count else { break }
                    scalar = lines[index].trimmingCharacters(in: .whitespaces)
                }
                var text = ""
                var pendingBreaks = 0
                for (n, piece) in pieces.enumerated() {
                    if n > 0 {
                        if piece.isEmpty { pendingBreaks += 1; continue }
                        text += pendingBreaks > 0 ? String(repeating: "\n", count: pendingBreaks) : " "
                        pendingBreaks = 0
                    }
                    text += piece
                }
                bodies.append(Array(text.replacingOccurrences(of: "''", with: "'").utf8))
                wanted = false
            }
            index += 1
        }
        return bodies
    }

    /// The index of the quote that closes a single-quoted YAML scalar (not a `''` escape).
    private static func closingQuote(_ text: String) -> String.Index? {
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "'" {
                let next = text.index(after: i)
                if next < text.endIndex, text[next] == "'" { i = text.index(after: next); continue }
                return i
            }
            i = text.index(after: i)
        }
        return nil
    }
}

/// A request context for tests.
func parseContext(_ source: String, _ endpoint: String, subject: String? = nil, asOf: String? = nil,
                  parameters: [String: String] = [:], observedAt: Int64 = 1_700_000_000_000) -> ParseContext {
    ParseContext(source: source, endpoint: endpoint, subject: subject, asOf: asOf.map { try! LocalDate($0) },
                 parameters: parameters, requestFingerprint: "test:\(source):\(endpoint)",
                 observedAt: Timestamp(millisecondsSinceEpoch: observedAt))
}

/// Parses with the standard catalog's parser for the context.
func parse(_ body: [UInt8], _ context: ParseContext) throws -> ParseResult {
    try EndpointCatalog.standard.parse(body, context: context)
}

/// The typed payloads of the events of one type.
func payloads<P: EventPayload>(_ result: ParseResult, _ type: P.Type) throws -> [P] {
    try result.events.filter { $0.type == P.type }.map { try EventCatalog.standard.payload(of: $0, as: P.self) }
}

/// Parses `body` with two different fetch times and checks ids match while `observedAt` differs.
func expectStableIDs(_ body: [UInt8], _ context: ParseContext, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var later = context
    later.observedAt = Timestamp(millisecondsSinceEpoch: (context.observedAt?.millisecondsSinceEpoch ?? 0) + 86_400_000)
    later.requestFingerprint = context.requestFingerprint + ":again"
    let first = try parse(body, context)
    let second = try parse(body, later)
    #expect(!first.events.isEmpty, sourceLocation: sourceLocation)
    #expect(first.events.map(\.id) == second.events.map(\.id), sourceLocation: sourceLocation)
    #expect(first.events.first?.observedAt != second.events.first?.observedAt, sourceLocation: sourceLocation)
    #expect(second.events.first?.provenance?.request == later.requestFingerprint, sourceLocation: sourceLocation)
}

/// Runs `body` and returns the `ParseError` it must throw.
func expectParseError(_ code: ParseError.Code, _ body: [UInt8], _ context: ParseContext,
                      sourceLocation: SourceLocation = #_sourceLocation) -> ParseError? {
    do {
        let result = try parse(body, context)
        Issue.record("expected \(code), parsed \(result.events.count) events and \(result.issues.count) issues", sourceLocation: sourceLocation)
        return nil
    } catch let error as ParseError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.source == context.source && error.request == context.requestFingerprint, sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The UTF-8 bytes of a test body.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A date literal for expectations.
func day(_ text: String) -> LocalDate { try! LocalDate(text) }
