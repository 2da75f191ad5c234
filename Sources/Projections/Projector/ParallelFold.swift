import Dispatch
import Events
import Foundation

/// Folds a batch on several threads at once: each thread folds a contiguous slice of the
/// events, and the slices' changes are concatenated in event order. A fold only appends what
/// one event changes (see `Projection.fold`), so the result is exactly the one-thread
/// `ProjectionEngine.fold`, and a failure is the one it would report first.
enum ParallelFold {
    /// Batches smaller than this fold on the calling thread alone.
    static let minimumEvents = 4096

    /// The slices a batch is cut into: one per core, at most four.
    static let defaultParts = min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 4)

    static func fold(_ events: [Event], projections: [any Projection], parts: Int = defaultParts) throws(ProjectionError) -> ProjectionChanges {
        let parts = min(parts, events.count / (minimumEvents / 2))
        guard parts > 1, events.count >= minimumEvents else {
            return try ProjectionEngine.fold(events, projections: projections)
        }
        let results = Results(count: parts)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let slice = events[events.count * part / parts..<events.count * (part + 1) / parts]
            results.store(Result { () throws(ProjectionError) in try ProjectionEngine.fold(slice, projections: projections) }, at: part)
        }
        var changes = try results.take(0).get()
        for part in 1..<parts {
            let folded = try results.take(part).get()
            changes.rows += folded.rows
            changes.keys += folded.keys
            changes.rejects += folded.rejects
        }
        return changes
    }

    /// One slot per slice.
    ///
    /// `@unchecked Sendable`: each slot is written by exactly one `concurrentPerform`
    /// iteration, and read only after `concurrentPerform` returned (which orders the writes
    /// before the reads).
    private final class Results: @unchecked Sendable {
        private var slots: [Result<ProjectionChanges, ProjectionError>?]

        init(count: Int) {
            slots = Array(repeating: nil, count: count)
        }

        func store(_ result: Result<ProjectionChanges, ProjectionError>, at index: Int) {
            slots.withUnsafeMutableBufferPointer { $0[index] = result }
        }

        func take(_ index: Int) -> Result<ProjectionChanges, ProjectionError> {
            slots[index]!
        }
    }
}
