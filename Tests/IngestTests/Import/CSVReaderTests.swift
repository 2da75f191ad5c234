import Ingest
import Testing
import TickfoldTesting

@Suite("CSV reader (RFC 4180 over bytes)", .onTestThreads)
struct CSVReaderTests {
    private func records(_ text: String) -> [Result<CSVRecord, CSVSyntaxError>] {
        var reader = CSVReader(bytes: Array(text.utf8))
        var out: [Result<CSVRecord, CSVSyntaxError>] = []
        while true {
            do throws(CSVSyntaxError) {
                guard let record = try reader.next() else { return out }
                out.append(.success(record))
            } catch {
                out.append(.failure(error))
            }
        }
    }

    private func fields(_ text: String) -> [[String]] {
        records(text).map { (try? $0.get())?.fields ?? ["<error>"] }
    }

    @Test("LF, CRLF and lone CR line ends; a final line break adds no record")
    func lineEnds() {
        #expect(fields("a,b\n1,2\n") == [["a", "b"], ["1", "2"]])
        #expect(fields("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]])
        #expect(fields("a,b\r1,2") == [["a", "b"], ["1", "2"]])
        #expect(fields("a,b\n1,2") == [["a", "b"], ["1", "2"]])
        #expect(fields("") == [])
    }

    @Test("quoted fields keep delimiters, doubled quotes and line breaks; lines are counted inside quotes")
    func quoting() throws {
        let all = records("h1,h2\n\"1,234.50\",\"say \"\"hi\"\"\"\n\"two\r\nlines\",x\nlast,\"\"\n")
        let parsed = try all.map { try $0.get() }
        #expect(parsed.map(\.fields) == [["h1", "h2"], ["1,234.50", "say \"hi\""], ["two\r\nlines", "x"], ["last", ""]])
        #expect(parsed.map(\.line) == [1, 2, 3, 5])
    }

    @Test("a UTF-8 byte order mark is skipped; UTF-16 ones are recognised")
    func byteOrderMark() throws {
        var reader = CSVReader(bytes: [0xEF, 0xBB, 0xBF] + Array("Date,Open\n".utf8))
        #expect(try reader.next()?.fields == ["Date", "Open"])
        #expect(CSVReader.startsWithUTF16BOM([0xFF, 0xFE, 0x44, 0x00]))
        #expect(!CSVReader.startsWithUTF16BOM(Array("Date".utf8)))
    }

    @Test("empty lines and comma-only rows come back as blank records")
    func blankRows() throws {
        let parsed = try records("a,b\n\n,\n , \n").map { try $0.get() }
        #expect(parsed.map(\.isBlank) == [false, true, true, true])
        #expect(parsed.map(\.line) == [1, 2, 3, 4])
    }

    @Test("a quote in an unquoted field is data")
    func strayQuote() {
        #expect(fields("5'2\",x\n") == [["5'2\"", "x"]])
    }

    @Test("text after a closing quote fails that record only, with its line")
    func textAfterQuote() {
        let all = records("a,b\n\"1\"x,2\n3,4\n")
        #expect(all.count == 3)
        #expect(throws: CSVSyntaxError.self) { try all[1].get() }
        if case .failure(let error) = all[1] { #expect(error.line == 2) }
        #expect((try? all[2].get())?.fields == ["3", "4"])
        #expect((try? all[2].get())?.line == 3)
    }

    @Test("an unterminated quote is reported at the line where its record starts")
    func unterminatedQuote() {
        let all = records("a,b\n1,\"open\n2,3\n")
        #expect(all.count == 2)
        guard case .failure(let error) = all[1] else {
            Issue.record("expected a syntax error")
            return
        }
        #expect(error.line == 2)
        #expect(error.detail.contains("never closed"))
    }

    @Test("invalid UTF-8 fails the record, not the file")
    func invalidUTF8() {
        var reader = CSVReader(bytes: Array("a,b\n".utf8) + [0xC3, 0x28] + Array(",1\n2,3\n".utf8))
        #expect((try? reader.next())?.fields == ["a", "b"])
        #expect(throws: CSVSyntaxError(line: 2, detail: "field 1 is not valid UTF-8")) { try reader.next() }
        #expect((try? reader.next())?.fields == ["2", "3"])
    }

    @Test("another delimiter can be chosen")
    func semicolons() throws {
        var reader = CSVReader(bytes: Array("a;\"b;c\"\n".utf8), delimiter: UInt8(ascii: ";"))
        #expect(try reader.next()?.fields == ["a", "b;c"])
    }
}
