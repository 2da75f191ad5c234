import Events
import Ingest
import Testing
import TickfoldTesting

@Suite("CSV field normalization: decimals, volumes, dates", .onTestThreads)
struct CSVFieldParsingTests {
    @Test("prices become plain decimal strings exactly as written", arguments: [
        ("187.35", "187.35"), ("210.0", "210.0"), ("236.9499969482422", "236.9499969482422"),
        ("1,234.50", "1234.50"), ("12,345,678.9", "12345678.9"), (" 97.5 ", "97.5"), ("$1,234.5", "1234.5"),
        ("+5", "5"), (".5", "0.5"), ("5.", "5"), ("007.50", "7.50"), ("0", "0"),
        ("1.2345E7", "12345000"), ("1e-05", "0.00001"), ("1.5E1", "15"), ("2.5e-1", "0.25"), ("-3.2", "-3.2"), ("-0.00", "0.00"),
    ])
    func decimals(input: String, expected: String) throws {
        let value = try CSVFieldParsing.decimal(Substring(input)).get()
        #expect(value == expected)
        #expect(DecimalString(value) != nil)
    }

    @Test("ambiguous or broken numbers are refused, not guessed", arguments: [
        "187,35", "1,23.4", "12,3456", "1,234,56", ",5", "abc", "1.2.3", "1e", "1e99", "", "12 34", "0x10", "1,234.5,6",
    ])
    func badDecimals(input: String) {
        #expect(throws: CSVFieldError.self) { try CSVFieldParsing.decimal(Substring(input)).get() }
    }

    @Test("volumes are whole numbers", arguments: [
        ("56833400", 56_833_400), ("1,234,567", 1_234_567), ("1.2345E7", 12_345_000), ("1234567.0", 1_234_567), ("0", 0),
    ])
    func volumes(input: String, expected: Int) throws {
        #expect(try CSVFieldParsing.volume(Substring(input)).get() == expected)
    }

    @Test("fractional, abbreviated, negative or oversized volumes are refused", arguments: [
        ("12.5", "not a whole number"), ("45.67M", "abbreviated"), ("1.2K", "abbreviated"), ("-5", "negative"),
        ("1e20", "too large"), ("lots", "not a number"),
    ])
    func badVolumes(input: String, reason: String) {
        guard case .failure(let error) = CSVFieldParsing.volume(Substring(input)) else {
            Issue.record("\(input) was accepted")
            return
        }
        #expect(error.reason.contains(reason), "\(error.reason)")
    }

    @Test("dates in the spellings exports use", arguments: [
        ("2025-02-28", "2025-02-28"), ("2025-1-2", "2025-01-02"), ("2025/03/04", "2025-03-04"),
        ("2025-01-02 00:00:00-05:00", "2025-01-02"), ("2025-01-02T00:00:00Z", "2025-01-02"),
        ("2/27/2026", "2026-02-27"), ("02/27/2026", "2026-02-27"), ("2/27/26", "2026-02-27"), ("2/27/2026 0:00", "2026-02-27"),
        ("27-Feb-26", "2026-02-27"), ("27-feb-2026", "2026-02-27"), ("3-SEP-25", "2025-09-03"), ("3-OCT-25", "2025-10-03"), ("Feb 27, 2026", "2026-02-27"),
        ("27 Feb 2026", "2026-02-27"), ("Sept 3, 2025", "2025-09-03"), ("February 27, 2026", "2026-02-27"),
        ("1-Jan-69", "1969-01-01"), ("31-Dec-68", "2068-12-31"), ("29-Feb-24", "2024-02-29"),
    ])
    func dates(input: String, expected: String) throws {
        #expect(try CSVFieldParsing.date(Substring(input)).get() == LocalDate(expected))
    }

    @Test("day-first, impossible or unknown dates are refused", arguments: [
        "27/2/2026", "2025-02-30", "2/30/2026", "29-Feb-25", "Foo 1, 2026", "20250228", "2025-02-28 garbage", "", "27-02-2026",
        "2/27/226", "Ju 4, 2025",
    ])
    func badDates(input: String) {
        #expect(throws: CSVFieldError.self) { try CSVFieldParsing.date(Substring(input)).get() }
    }

    @Test("day-first dates say why they were refused")
    func dayFirstReason() {
        guard case .failure(let error) = CSVFieldParsing.date("27/2/2026") else {
            Issue.record("accepted")
            return
        }
        #expect(error.reason.contains("D/M/YYYY"))
    }

    @Test("the two-digit year pivot is POSIX %y")
    func pivot() {
        #expect(CSVFieldParsing.pivotYear(0) == 2000)
        #expect(CSVFieldParsing.pivotYear(68) == 2068)
        #expect(CSVFieldParsing.pivotYear(69) == 1969)
        #expect(CSVFieldParsing.pivotYear(99) == 1999)
    }

    @Test("decimal comparison is exact", arguments: [
        ("9.5", "10", true), ("10.0", "10", false), ("10", "10.01", true), ("0.5", "0.45", false),
        ("97.66999816894533", "97.66999816894534", true), ("100", "99.999", false),
    ])
    func comparison(a: String, b: String, less: Bool) {
        #expect(CSVFieldParsing.isLess(a, than: b) == less)
    }

    @Test("missing-value markers")
    func missing() {
        for text in ["", "null", "NaN", "-", "N/A", "none"] {
            #expect(CSVFieldParsing.isMissing(Substring(text)))
        }
        #expect(!CSVFieldParsing.isMissing("0"))
    }
}
