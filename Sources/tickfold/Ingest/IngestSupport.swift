import Events
import Foundation
import Ingest
import Zstd

/// zstd for quarantined bodies (level 3, with a checksum so a damaged file is noticed).
struct ZstdBodyCompressor: BodyCompressor {
    var fileExtension: String { ".zst" }

    func compress(_ bytes: [UInt8]) throws -> [UInt8] {
        try ZstdCompressor(level: 3, checksum: true).compress(bytes)
    }
}

/// What ingest commands share: the configuration's ingest section, base URLs, the run date,
/// and the directories beside the log.
struct IngestEnvironment {
    let configurationPath: String?
    let configuration: IngestConfiguration
    let endpoints: SourceEndpoints
    let logPath: String

    init(connection: ConnectionOptions) throws {
        let file = try connection.configurationFile()
        configurationPath = file.path
        do {
            configuration = try file.document.map { document throws(IngestConfigurationError) in try IngestConfiguration.from(document) } ?? IngestConfiguration()
        } catch {
            throw CLIError(error.description)
        }
        let section = try file.section("endpoints", as: [String: String].self) ?? [:]
        do {
            endpoints = try SourceEndpoints.resolve(environment: ProcessInfo.processInfo.environment, configuration: section)
        } catch {
            throw CLIError("\(error)")
        }
        logPath = try connection.logPath().value
    }

    /// A directory named in the configuration (relative to the working directory), or `name`
    /// beside the log directory.
    func directory(configured: String?, besideLog name: String) -> String {
        if let configured { return configured }
        let parent = (logPath as NSString).deletingLastPathComponent
        return parent.isEmpty ? name : "\(parent)/\(name)"
    }

    var quarantine: Quarantine {
        Quarantine(directory: directory(configured: configuration.quarantine, besideLog: "quarantine"), compressor: ZstdBodyCompressor())
    }

    var stateDirectory: String { directory(configured: configuration.stateDirectory, besideLog: "ingest-state") }
}

/// `--as-of YYYY-MM-DD`, or today in UTC: the one place ingest reads the calendar.
func resolveAsOf(_ text: String?) throws -> LocalDate {
    guard let text else { return LocalDate(daysSinceEpoch: Int64((Date().timeIntervalSince1970 / 86_400).rounded(.down))) }
    do { return try LocalDate(text) } catch { throw CLIError("--as-of \(text): expected a date YYYY-MM-DD (\(error))") }
}

/// The wall clock as a millisecond timestamp.
func currentTimestamp() -> Timestamp {
    Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
}

/// Prints rows as a left/right aligned table: the first `textColumns` columns left-aligned.
func printAlignedTable(_ rows: [[String]], textColumns: Int) {
    guard let header = rows.first else { return }
    let widths = header.indices.map { column in rows.map { $0[column].count }.max()! }
    for row in rows {
        let cells = row.enumerated().map { column, cell in
            column < textColumns ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[column] - cell.count) + cell
        }
        print(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}
