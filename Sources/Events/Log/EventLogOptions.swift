/// How an `EventLog` is opened.
public struct EventLogOptions: Sendable {
    /// Whether this process appends (one writer process per log) or only reads.
    public enum Access: Sendable {
        /// Appends; takes the log's writer lock, creating the log if it does not exist.
        case writer
        /// Reads only; needs no lock and sees the writer's commits as they land.
        case readOnly
        /// Reads, and writes named checkpoints only: for a Kafka relay running beside the
        /// appending process. Takes no writer lock; LMDB serializes its small write
        /// transactions with the appender's.
        case checkpointer
    }

    /// When an append counts as done.
    public enum Durability: Sendable {
        /// After its batch is fsync'ed: survives a machine crash (the default).
        case fsync
        /// After its batch is committed without fsync: survives a process crash, not a
        /// machine crash. Only for rebuilds and benchmarks that can redo their work.
        case noSync
    }

    public var access: Access
    public var durability: Durability
    /// Map size of a new log; the map doubles whenever a batch does not fit.
    public var initialMapSize: Int
    /// The map never grows past this; a batch that does not fit then fails with `.mapLimitReached`.
    public var maximumMapSize: Int
    /// zstd level for stored records (1–3 suit the hot path); nil stores records uncompressed.
    public var compressionLevel: Int?
    /// Once the log holds this many events and has no zstd dictionary, one is trained on them
    /// in the background and used for every later record; nil never trains automatically.
    /// (Without a dictionary, blocks of less than 1 KiB of JSON are stored uncompressed: see
    /// `RecordEncoder`.)
    public var dictionaryTrainingThreshold: Int?
    /// Most records one write transaction takes from the queue when coalescing appends
    /// (a single larger call still commits whole).
    public var maximumBatchRecords: Int
    /// Concurrent read transactions across all processes.
    public var maxReaders: Int
    /// New events kept out of the id index (found through their stored headers and the
    /// writer's memory) before they are merged into it in key order, at least; a quarter of
    /// the indexed events once that is more, up to 8 times this (see `UnindexedTail`).
    public var indexMergeRun: Int
    /// How long an open waits for a log another process is creating (its files exist, its
    /// databases are not committed yet) before it reports `.beingCreated`: the creator's
    /// first commit is fsync'ed, which a busy disk can hold for seconds.
    public var creationWait: Duration

    public init(
        access: Access = .writer,
        durability: Durability = .fsync,
        initialMapSize: Int = 64 << 20,
        maximumMapSize: Int = 1 << 40,
        compressionLevel: Int? = 1,
        dictionaryTrainingThreshold: Int? = 10_000,
        maximumBatchRecords: Int = 65_536,
        maxReaders: Int = 256,
        indexMergeRun: Int = 65_536,
        creationWait: Duration = .seconds(5)
    ) {
        self.access = access
        self.durability = durability
        self.initialMapSize = initialMapSize
        self.maximumMapSize = maximumMapSize
        self.compressionLevel = compressionLevel
        self.dictionaryTrainingThreshold = dictionaryTrainingThreshold
        self.maximumBatchRecords = maximumBatchRecords
        self.maxReaders = maxReaders
        self.indexMergeRun = indexMergeRun
        self.creationWait = creationWait
    }

    /// Read-only access with default settings.
    public static var readOnly: EventLogOptions { EventLogOptions(access: .readOnly) }
}
