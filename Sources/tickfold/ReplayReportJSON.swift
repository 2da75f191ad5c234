import Replay

/// `tickfold replay --json`: one object per run, every key always present (null when it does
/// not apply), so scripts can read the shadow a `--to` replay kept or the seq a swap covered.
///
/// `{"dryRun", "plan": {…}, "result": {…} | null}`, or `{"discarded": {…}}` for `--discard`.
struct ReplayReportJSON: Encodable {
    let dryRun: Bool
    let plan: ReplayPlan
    let result: ReplayResult?

    private enum Keys: String, CodingKey {
        case dryRun, plan, result
    }

    private enum PlanKeys: String, CodingKey {
        case projections, liveVersions, requestedFrom, foldFrom, through, head, events, copyBelow
        case liveSchema, liveSchemaExists, liveCheckpoint, shadowSchema, retiredSchema
        case liveKeyPrefix, shadowKeyPrefix, pointerKey, swaps, notes
    }

    private enum ResultKeys: String, CodingKey {
        case folded, copiedRows, copiedKeys, swappedAt, droppedKeys, keptSchema, keptKeyPrefix, seconds
    }

    func encode(to encoder: any Encoder) throws {
        var root = encoder.container(keyedBy: Keys.self)
        try root.encode(dryRun, forKey: .dryRun)
        var p = root.nestedContainer(keyedBy: PlanKeys.self, forKey: .plan)
        try p.encode(plan.projections, forKey: .projections)
        try p.encode(plan.liveVersions, forKey: .liveVersions)
        try p.encode(plan.requestedFrom, forKey: .requestedFrom)
        try p.encode(plan.foldFrom, forKey: .foldFrom)
        try p.encode(plan.through, forKey: .through)
        try p.encode(plan.head, forKey: .head)
        try p.encode(plan.events, forKey: .events)
        try p.encode(plan.copyBelow, forKey: .copyBelow)
        try p.encode(plan.liveSchema, forKey: .liveSchema)
        try p.encode(plan.liveSchemaExists, forKey: .liveSchemaExists)
        try p.encode(plan.liveCheckpoint, forKey: .liveCheckpoint)
        try p.encode(plan.shadowSchema, forKey: .shadowSchema)
        try p.encode(plan.retiredSchema, forKey: .retiredSchema)
        try p.encode(plan.liveKeyPrefix, forKey: .liveKeyPrefix)
        try p.encode(plan.shadowKeyPrefix, forKey: .shadowKeyPrefix)
        try p.encode(plan.pointerKey, forKey: .pointerKey)
        try p.encode(plan.swaps, forKey: .swaps)
        try p.encode(plan.notes, forKey: .notes)
        guard let result else {
            try root.encodeNil(forKey: .result)
            return
        }
        var r = root.nestedContainer(keyedBy: ResultKeys.self, forKey: .result)
        try r.encode(result.folded, forKey: .folded)
        try r.encode(result.copiedRows, forKey: .copiedRows)
        try r.encode(result.copiedKeys, forKey: .copiedKeys)
        try r.encode(result.swappedAt, forKey: .swappedAt)
        try r.encode(result.droppedKeys, forKey: .droppedKeys)
        let kept = result.swappedAt == nil
        try r.encode(kept ? plan.shadowSchema : nil, forKey: .keptSchema)
        try r.encode(kept ? plan.shadowKeyPrefix : nil, forKey: .keptKeyPrefix)
        try r.encode(result.seconds, forKey: .seconds)
    }
}

/// `tickfold replay --discard ID --json`.
struct ReplayDiscardJSON: Encodable {
    let id: String
    let droppedSchemas: [String]
    let droppedKeys: Int
}
