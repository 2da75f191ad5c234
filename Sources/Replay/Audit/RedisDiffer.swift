/// Compares the key families of two Redis namespaces: leaf digests first, then the values
/// of keys in differing leaves only.
struct RedisDiffer: Sendable {
    let a: RedisAuditSession
    let b: RedisAuditSession
    let options: AuditOptions
    let parallel: Bool

    func compareFamilies() throws(AuditError) -> [Comparison] {
        try options.families.map { family throws(AuditError) in try compare(family) }
    }

    private func compare(_ family: String) throws(AuditError) -> Comparison {
        let (a, b, bits) = (self.a, self.b, options.leafBits)
        let (levelA, levelB) = try onBothSides(parallel: parallel, { () throws(AuditError) in
            try a.leaves(of: family, bits: bits)
        }, { () throws(AuditError) in
            try b.leaves(of: family, bits: bits)
        })
        let rootA = levelA.root(scheme: RedisAuditSession.scheme)
        let rootB = levelB.root(scheme: RedisAuditSession.scheme)
        let differing = Set(levelA.differingBuckets(from: levelB))
        var differences: [RowDifference] = []
        var fetched = 0
        var truncated = false
        if !differing.isEmpty {
            let (valuesA, valuesB) = try onBothSides(parallel: parallel, { () throws(AuditError) in
                try a.values(of: family, bits: bits, buckets: differing)
            }, { () throws(AuditError) in
                try b.values(of: family, bits: bits, buckets: differing)
            })
            fetched = valuesA.count + valuesB.count
            let byKeyA = Dictionary(valuesA.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            let byKeyB = Dictionary(valuesB.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            for key in Set(byKeyA.keys).union(byKeyB.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let valueA = byKeyA[key], valueB = byKeyB[key]
                if let valueA, let valueB, valueA.valueHash == valueB.valueHash { continue }
                guard differences.count < options.maxDifferences else {
                    truncated = true
                    break
                }
                let imageA = valueA.map { RowImage(values: $0.fields, seq: $0.seq, eventID: $0.eventID) }
                let imageB = valueB.map { RowImage(values: $0.fields, seq: $0.seq, eventID: $0.eventID) }
                var changed: [String] = []
                if let imageA, let imageB {
                    changed = Set(imageA.values.keys).union(imageB.values.keys)
                        .filter { imageA.values[$0] != imageB.values[$0] }.sorted()
                }
                differences.append(RowDifference(
                    kind: imageA == nil ? .onlyInB : (imageB == nil ? .onlyInA : .changed),
                    key: String(decoding: key, as: UTF8.self), columns: changed, a: imageA, b: imageB))
            }
        }
        return Comparison(
            name: "redis:" + family, status: rootA == rootB ? .equal : .different,
            rowsA: levelA.rowCount, rowsB: levelB.rowCount, rootA: rootA, rootB: rootB,
            columnsOnlyInA: [], columnsOnlyInB: [], differingLeaves: differing.count, leafBits: bits,
            rowsFetched: fetched, differences: differences, truncated: truncated, note: nil)
    }
}
