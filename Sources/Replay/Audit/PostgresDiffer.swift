/// Compares the tables of two schemas (on one or two databases) by Merkle descent.
struct PostgresDiffer: Sendable {
    let a: (session: PostgresAuditSession, schema: String)
    let b: (session: PostgresAuditSession, schema: String)
    let options: AuditOptions
    let parallel: Bool

    func compareSchemas() throws(AuditError) -> [Comparison] {
        let (a, b, options) = (self.a, self.b, self.options)
        let (shapesA, shapesB) = try onBothSides(parallel: parallel, { () throws(AuditError) in
            try a.session.tables(in: a.schema)
        }, { () throws(AuditError) in
            try b.session.tables(in: b.schema)
        })
        let names = Set(shapesA.keys).union(shapesB.keys)
        if let wanted = options.tables, let missing = wanted.first(where: { !names.contains($0) }) {
            throw AuditError(.notFound, operation: "diff", message: "table \(missing) exists in neither \(a.schema) nor \(b.schema)")
        }
        return try Audit.selectedTables(Array(names), options: options, reportMissing: false).map { name throws(AuditError) in
            try compare(name, shapesA[name], shapesB[name])
        }
    }

    private func compare(_ name: String, _ shapeA: TableShape?, _ shapeB: TableShape?) throws(AuditError) -> Comparison {
        guard let shapeA, let shapeB else {
            let (side, shape) = shapeA.map { (self.a, $0) } ?? (self.b, shapeB!)
            var level: LeafLevel?
            if !shape.primaryKey.isEmpty {
                let columns = shape.compared(excluding: options.excludedColumns)
                level = try side.session.leaves(schema: side.schema, table: shape, columns: columns, seqColumn: nil, bits: options.leafBits)
            }
            let root = level?.root(scheme: PostgresAuditSession.scheme)
            return Comparison(
                name: name, status: shapeA != nil ? .onlyInA : .onlyInB,
                rowsA: shapeA != nil ? level?.rowCount : nil, rowsB: shapeB != nil ? level?.rowCount : nil,
                rootA: shapeA != nil ? root : nil, rootB: shapeB != nil ? root : nil,
                columnsOnlyInA: [], columnsOnlyInB: [], differingLeaves: 0, leafBits: options.leafBits,
                rowsFetched: 0, differences: [], truncated: false,
                note: level == nil ? "no primary key" : nil)
        }
        guard !shapeA.primaryKey.isEmpty, shapeA.primaryKey == shapeB.primaryKey else {
            return Comparison(
                name: name, status: .incomparable, rowsA: nil, rowsB: nil, rootA: nil, rootB: nil,
                columnsOnlyInA: [], columnsOnlyInB: [], differingLeaves: 0, leafBits: options.leafBits,
                rowsFetched: 0, differences: [], truncated: false,
                note: shapeA.primaryKey.isEmpty || shapeB.primaryKey.isEmpty
                    ? "no primary key" : "primary keys differ: (\(shapeA.primaryKey.joined(separator: ", "))) vs (\(shapeB.primaryKey.joined(separator: ", ")))")
        }
        let comparedA = shapeA.compared(excluding: options.excludedColumns)
        let comparedB = shapeB.compared(excluding: options.excludedColumns)
        let namesA = Set(comparedA.map(\.name)), namesB = Set(comparedB.map(\.name))
        let columnsA = comparedA.filter { namesB.contains($0.name) }
        let columnsB = comparedB.filter { namesA.contains($0.name) }
        let typeChanges = zip(columnsA, columnsB).filter { $0.type != $1.type }.map { "\($0.name) \($0.type) vs \($1.type)" }
        let seqA = Audit.seqColumn(of: columnsA, options: options)
        let seqB = Audit.seqColumn(of: columnsB, options: options)

        let (a, b, bits) = (self.a, self.b, options.leafBits)
        var (levelA, levelB) = try onBothSides(parallel: parallel, { () throws(AuditError) in
            try a.session.leaves(schema: a.schema, table: shapeA, columns: columnsA, seqColumn: seqA, bits: bits)
        }, { () throws(AuditError) in
            try b.session.leaves(schema: b.schema, table: shapeB, columns: columnsB, seqColumn: seqB, bits: bits)
        })
        let totalA = levelA.rowCount, totalB = levelB.rowCount
        let rootA = levelA.root(scheme: PostgresAuditSession.scheme)
        let rootB = levelB.root(scheme: PostgresAuditSession.scheme)
        let onlyInA = namesA.subtracting(namesB).sorted(), onlyInB = namesB.subtracting(namesA).sorted()
        let sameColumns = onlyInA.isEmpty && onlyInB.isEmpty
        let note = typeChanges.isEmpty ? nil : "column types differ: " + typeChanges.joined(separator: "; ")

        var differing = levelA.differingBuckets(from: levelB)
        while max(levelA.rows(in: differing), levelB.rows(in: differing)) > Int64(options.fetchThreshold), levelA.bits < 64 {
            let parents = (bits: levelA.bits, buckets: differing)
            let childBits = min(levelA.bits + 8, 64)
            (levelA, levelB) = try onBothSides(parallel: parallel, { () throws(AuditError) in
                try a.session.leaves(schema: a.schema, table: shapeA, columns: columnsA, seqColumn: seqA, bits: childBits, within: parents)
            }, { () throws(AuditError) in
                try b.session.leaves(schema: b.schema, table: shapeB, columns: columnsB, seqColumn: seqB, bits: childBits, within: parents)
            })
            differing = levelA.differingBuckets(from: levelB)
        }

        var differences: [RowDifference] = []
        var fetched = 0
        var truncated = false
        let finalA = levelA, finalB = levelB
        let runs = batches(of: differing, rows: { max(finalA.leaves[$0]?.count ?? 0, finalB.leaves[$0]?.count ?? 0) }, maxRows: options.fetchBatchRows)
        for (index, run) in runs.enumerated() {
            let fetchBits = levelA.bits
            let (rowsA, rowsB) = try onBothSides(parallel: parallel, { () throws(AuditError) in
                try a.session.rows(schema: a.schema, table: shapeA, columns: columnsA, bits: fetchBits, buckets: run)
            }, { () throws(AuditError) in
                try b.session.rows(schema: b.schema, table: shapeB, columns: columnsB, bits: fetchBits, buckets: run)
            })
            fetched += rowsA.count + rowsB.count
            for key in Set(rowsA.keys).union(rowsB.keys).sorted() {
                let rowA = rowsA[key], rowB = rowsB[key]
                if let rowA, let rowB, rowA.hash == rowB.hash { continue }
                guard differences.count < options.maxDifferences else {
                    truncated = true
                    break
                }
                differences.append(difference(key: key, rowA, columnsA, rowB, columnsB))
            }
            if truncated || (differences.count >= options.maxDifferences && index < runs.count - 1) {
                truncated = true
                break
            }
        }
        let equal = rootA == rootB && sameColumns
        return Comparison(
            name: name, status: equal ? .equal : .different, rowsA: totalA, rowsB: totalB, rootA: rootA, rootB: rootB,
            columnsOnlyInA: onlyInA, columnsOnlyInB: onlyInB, differingLeaves: differing.count, leafBits: levelA.bits,
            rowsFetched: fetched, differences: differences, truncated: truncated, note: note)
    }

    private func difference(key: String, _ rowA: FetchedRow?, _ columnsA: [AuditColumn], _ rowB: FetchedRow?, _ columnsB: [AuditColumn]) -> RowDifference {
        let imageA = rowA.map { image($0, columnsA) }
        let imageB = rowB.map { image($0, columnsB) }
        let kind: RowDifference.Kind = imageA == nil ? .onlyInB : (imageB == nil ? .onlyInA : .changed)
        var changed: [String] = []
        if let imageA, let imageB {
            changed = imageA.values.keys.filter { imageA.values[$0] != imageB.values[$0] }.sorted()
        }
        return RowDifference(kind: kind, key: key, columns: changed, a: imageA, b: imageB)
    }

    private func image(_ row: FetchedRow, _ columns: [AuditColumn]) -> RowImage {
        var values: [String: String?] = [:]
        for (column, value) in zip(columns, row.values) { values[column.name] = value }
        let seq = options.seqFields.lazy.compactMap { values[$0] ?? nil }.first
        let eventID = options.eventIDFields.lazy.compactMap { values[$0] ?? nil }.first
        return RowImage(values: values, seq: seq, eventID: eventID)
    }
}
