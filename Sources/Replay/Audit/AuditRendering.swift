import Foundation

extension DigestReport {
    /// The human table `tickfold audit digest` prints.
    public func text() -> String {
        var lines = ["target \(target)"]
        var coverage = "covers log position: " + (maxSeq.map { "max seq \($0)" } ?? "unknown (no seq column or field)")
        if let checkpoints {
            coverage += checkpoints.isEmpty ? "; \(AuditOptions.checkpointTable) is empty" : "; checkpoints:"
        }
        lines.append(coverage)
        for checkpoint in checkpoints ?? [] {
            lines.append("  " + checkpoint.keys.sorted().map { "\($0)=\((checkpoint[$0] ?? nil) ?? "NULL")" }.joined(separator: " "))
        }
        var rows = [["NAME", "ROWS", "MAX SEQ", "ROOT", "LEAVES", "SECONDS"]]
        for table in tables {
            rows.append([table.table, String(table.rows), table.maxSeq.map(String.init) ?? "-", String(table.root.prefix(16)),
                         String(table.buckets), String(format: "%.3f", table.seconds)])
        }
        for family in families {
            rows.append(["redis:" + family.family, String(family.keys), family.maxSeq.map(String.init) ?? "-",
                         String(family.root.prefix(16)), String(family.buckets), String(format: "%.3f", family.seconds)])
        }
        lines += formatTable(rows)
        for table in skippedTables { lines.append("skipped \(table.table): \(table.reason)") }
        lines.append(String(format: "digest_seconds %.3f", digestSeconds))
        return lines.joined(separator: "\n")
    }
}

extension DiffReport {
    /// The human report `tickfold audit diff` prints: one line per table or family and every
    /// listed difference with both sides' values and writers.
    public func text() -> String {
        var lines = ["A: \(a)", "B: \(b)"]
        for comparison in comparisons {
            var line = "\(comparison.name): \(comparison.status.rawValue)"
            var details: [String] = []
            if comparison.rowsA != nil || comparison.rowsB != nil {
                details.append("A \(comparison.rowsA.map(String.init) ?? "-") rows, B \(comparison.rowsB.map(String.init) ?? "-") rows")
            }
            if comparison.status == .different {
                details.append("\(comparison.differingLeaves) leaves differ at \(comparison.leafBits) bits")
                details.append("\(comparison.rowsFetched) rows fetched")
            }
            if !details.isEmpty { line += " (" + details.joined(separator: "; ") + ")" }
            lines.append(line)
            if let note = comparison.note { lines.append("  note: \(note)") }
            if !comparison.columnsOnlyInA.isEmpty { lines.append("  columns only in A: \(comparison.columnsOnlyInA.joined(separator: ", "))") }
            if !comparison.columnsOnlyInB.isEmpty { lines.append("  columns only in B: \(comparison.columnsOnlyInB.joined(separator: ", "))") }
            for difference in comparison.differences {
                switch difference.kind {
                case .changed:
                    lines.append("  changed \(difference.key)  [\(difference.columns.joined(separator: ", "))]")
                    lines.append("    A " + describe(difference.a!, only: difference.columns))
                    lines.append("    B " + describe(difference.b!, only: difference.columns))
                case .onlyInA:
                    lines.append("  only in A \(difference.key)")
                    lines.append("    A " + describe(difference.a!, only: nil))
                case .onlyInB:
                    lines.append("  only in B \(difference.key)")
                    lines.append("    B " + describe(difference.b!, only: nil))
                }
            }
            if comparison.truncated { lines.append("  … more differences not listed (raise --limit)") }
        }
        let differing = comparisons.filter { $0.status != .equal }.count
        lines.append(isEqual
            ? "equal: \(comparisons.count) tables/families match; \(rowsFetched) rows fetched"
            : "different: \(differing) of \(comparisons.count) tables/families differ; \(rowsFetched) rows fetched")
        return lines.joined(separator: "\n")
    }

    private func describe(_ image: RowImage, only columns: [String]?) -> String {
        let writer = "seq=\(image.seq ?? "-") event_id=\(image.eventID ?? "-")"
        let names = columns ?? image.values.keys.sorted()
        let values = names.map { "\($0)=\((image.values[$0] ?? nil) ?? "NULL")" }
        return ([writer] + values).joined(separator: "  ")
    }
}

extension TraceReport {
    /// The human listing `tickfold audit trace` prints.
    public func text() -> String {
        var lines = ["\(target) \(table) " + key.keys.sorted().map { "\($0)=\(key[$0]!)" }.joined(separator: " ")]
        lines.append("row written by seq=\(rowSeq ?? "-") event_id=\(rowEventID ?? "-")")
        var rows = [["ROLE", "SEQ", "ID", "TYPE", "SOURCE", "SUBJECT", "OCCURRED AT"]]
        for event in events {
            rows.append([event.role == .lastWriter ? "last writer" : "earlier", String(event.seq), event.id,
                         event.type, event.source, event.subject, event.occurredAt])
        }
        lines += formatTable(rows)
        for note in notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }
}

/// Pretty, key-sorted JSON of a report, for `--json`.
public func auditJSON(_ value: some Encodable) throws(AuditError) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do {
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    } catch {
        throw AuditError(.invalidArgument, operation: "encode JSON", message: "\(error)")
    }
}

/// Left-aligned columns separated by two spaces.
func formatTable(_ rows: [[String]]) -> [String] {
    guard let first = rows.first else { return [] }
    var widths = first.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
}
