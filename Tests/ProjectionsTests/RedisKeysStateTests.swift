import Foundation
@testable import Projections
import Testing
import TickfoldTesting

@Suite("lost Redis keys: state and remedy", .onTestThreads)
struct RedisKeysStateTests {
    @Test("no checkpoint is a new projection whatever Redis holds; a checkpoint needs the marker, else keys (adopted), else the keys are lost; a marker set to lost stays lost")
    func assess() throws {
        #expect(RedisKeysState.assess(hasCheckpoint: false, marker: { nil }, keysExist: { false }) == .fresh)
        #expect(RedisKeysState.assess(hasCheckpoint: false, marker: { "lost" }, keysExist: { true }) == .fresh)
        #expect(RedisKeysState.assess(hasCheckpoint: true, marker: { "collected@v4" }, keysExist: { false }) == .present)
        #expect(RedisKeysState.assess(hasCheckpoint: true, marker: { nil }, keysExist: { true }) == .unmarked)
        #expect(RedisKeysState.assess(hasCheckpoint: true, marker: { nil }, keysExist: { false }) == .lost)
        #expect(RedisKeysState.assess(hasCheckpoint: true, marker: { RedisLayout.lostMarkerValue }, keysExist: { true }) == .lost)
    }

    @Test("a marker's batch count below PostgreSQL's is stale; equal, one ahead (a batch written without its COMMIT) or further ahead is present; a marker without a count passes")
    func assessCounts() throws {
        func state(_ marker: String?, batches: Int64, hasCheckpoint: Bool = true) -> RedisKeysState {
            RedisKeysState.assess(hasCheckpoint: hasCheckpoint, batches: batches, marker: { marker }, keysExist: { true })
        }
        #expect(state("collected@v4 17", batches: 17) == .present)
        #expect(state("collected@v4 18", batches: 17) == .present)
        #expect(state("collected@v4 40", batches: 17) == .present)
        #expect(state("collected@v4 16", batches: 17) == .stale)
        #expect(state("collected@v4 0", batches: 1) == .stale)
        #expect(state("collected@v4", batches: 17) == .present)
        #expect(state(RedisLayout.lostMarkerValue, batches: 17) == .lost)
        #expect(state("collected@v4 3", batches: 17, hasCheckpoint: false) == .fresh)
        #expect(state(nil, batches: 17) == .unmarked)
    }

    @Test("a marker's value is the label and the batch count; a value without a count reads as none")
    func markerValues() {
        #expect(RedisLayout.markerValue(label: "collected@v4", batch: 17) == "collected@v4 17")
        #expect(RedisLayout.markerValue(label: "collected@v4", batch: nil) == "collected@v4")
        #expect(RedisLayout.markerBatch("collected@v4 17") == 17)
        #expect(RedisLayout.markerBatch("collected@v4 9007199254740991") == 9_007_199_254_740_991)
        #expect(RedisLayout.markerBatch("collected@v4") == nil)
        #expect(RedisLayout.markerBatch("collected@v4 ") == nil)
        #expect(RedisLayout.markerBatch("collected@v4 1x") == nil)
        #expect(RedisLayout.markerBatch(RedisLayout.lostMarkerValue) == nil)
        let message = RedisKeysLoss.staleMessage(
            projection: "collected", markerKey: "eu:tickfold:projected:collected", markerBatch: 12, batches: 15, checkpoint: "log/0=42", schema: "prod_2", namespace: "eu:")
        #expect(message.contains("as of batch 12") && message.contains("at batch 15") && message.contains("log/0=42"))
        #expect(message.hasSuffix("`tickfold replay --from 1 --schema prod_2 --namespace eu:`"))
    }

    @Test("the scan for keys runs only for a checkpoint without its marker")
    func lazyLookups() throws {
        var scans = 0
        var markerLookups = 0
        _ = RedisKeysState.assess(hasCheckpoint: false, marker: { markerLookups += 1; return nil }, keysExist: { scans += 1; return false })
        _ = RedisKeysState.assess(hasCheckpoint: true, marker: { markerLookups += 1; return "collected@v4" }, keysExist: { scans += 1; return false })
        #expect(markerLookups == 1 && scans == 0)
        _ = RedisKeysState.assess(hasCheckpoint: true, marker: { nil }, keysExist: { scans += 1; return false })
        #expect(scans == 1)
    }

    @Test("the remedy is the replay from 1 of the same schema and namespace, quoted for a shell only when needed")
    func remedy() {
        #expect(RedisKeysLoss.remedy(schema: "tickfold", namespace: "") == "tickfold replay --from 1")
        #expect(RedisKeysLoss.remedy(schema: "prod_2", namespace: "eu:") == "tickfold replay --from 1 --schema prod_2 --namespace eu:")
        #expect(RedisKeysLoss.remedy(schema: "tickfold", namespace: "a b'") == "tickfold replay --from 1 --namespace 'a b'\\'''")
        let message = RedisKeysLoss.message(projection: "collected", markerKey: "eu:tickfold:projected:collected", checkpoint: "log/0=42", schema: "prod_2", namespace: "eu:")
        #expect(message.contains("log/0=42") && message.contains("eu:tickfold:projected:collected"))
        #expect(message.hasSuffix("`tickfold replay --from 1 --schema prod_2 --namespace eu:`"))
    }

    @Test("the marker sits beside the namespace pointer, outside every key family, and globs escape prefixes")
    func layout() {
        let marker = RedisLayout.markerKey(projection: "collected")
        #expect(marker == "tickfold:projected:collected")
        for family in RedisLayout.keyFamilies {
            #expect(!marker.hasPrefix(String(family.prefix { $0 != "*" })))
        }
        #expect(RedisLayout.escapedGlob("a*b?[c]\\") == #"a\*b\?\[c\]\\"#)
    }
}
