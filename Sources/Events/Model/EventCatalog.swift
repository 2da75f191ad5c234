/// One step of a payload's upgrade path: turns a `fromVersion` payload into `fromVersion + 1`.
public struct Upcaster: Sendable {
    public let fromVersion: Int
    public let transform: @Sendable (JSONValue) throws(PayloadError) -> JSONValue

    public init(from fromVersion: Int, _ transform: @escaping @Sendable (JSONValue) throws(PayloadError) -> JSONValue) {
        self.fromVersion = fromVersion
        self.transform = transform
    }

    /// An upcaster that validates the old shape with `Old` and converts it with `convert`.
    public static func typed<Old: EventPayload, New: EventPayload>(_ old: Old.Type, to new: New.Type, _ convert: @escaping @Sendable (Old) -> New) -> Upcaster {
        Upcaster(from: Old.version) { (json) throws(PayloadError) in
            try convert(Old(json: json)).json()
        }
    }
}

/// The catalogue of event types: current version, upcasters from older versions, and a
/// validator per type. Projections and the CLI use it to read payloads of any stored version.
///
/// Stored events are never rewritten: `Event.decode` keeps the stored version and payload (the
/// id covers them); upcasting happens when a payload is read as its current type.
public struct EventCatalog: Sendable {
    /// What the catalogue knows about one type.
    public struct Entry: Sendable {
        public let type: String
        public let currentVersion: Int
        /// Upcasters by the version they start from; versions 1..<currentVersion each have one.
        public let upcasters: [Int: Upcaster]
        let validateCurrent: @Sendable (JSONValue) throws(PayloadError) -> Void
        /// The payload struct registered as the current version.
        let currentType: ObjectIdentifier

        /// Every version that stays readable.
        public var versions: ClosedRange<Int> { (currentVersion - upcasters.count)...currentVersion }
    }

    public let entries: [String: Entry]
    /// `Entry.currentType` of every entry: an event stored at its type's current version and
    /// read as one of these needs no upcasting (a scan of a few words, cheaper than hashing the type).
    private let currentTypes: [ObjectIdentifier]

    /// All event types Tickfold records.
    public static let standard = EventCatalog([
        .init(DailyBar.self, upcasters: [.typed(DailyBarV1.self, to: DailyBar.self) { v1 in
            DailyBar(date: v1.date, open: v1.open, high: v1.high, low: v1.low, close: v1.close, adjClose: nil, volume: v1.volume)
        }]),
        .init(IntradayBar.self),
        .init(Trade.self),
        .init(MarketMover.self),
        .init(StockSplit.self),
        .init(CashDividend.self),
        .init(MacroObservation.self),
        .init(ETFHolding.self),
        .init(ETFProfile.self),
        .init(IndexConstituent.self),
        .init(CompanyOverview.self),
        .init(BalanceSheet.self),
        .init(EarningsCalendarEntry.self),
        .init(NewsArticle.self),
        .init(SocialPost.self),
        .init(SocialProfile.self),
        .init(CryptoListing.self),
        .init(CryptoMarket.self),
        .init(CryptoTicker.self, upcasters: [.typed(CryptoTickerV1.self, to: CryptoTicker.self) { $0.upcast() }]),
        .init(StageDecision.self),
        .init(IngestCursor.self),
        .init(IngestRejected.self),
    ])

    public init(_ entries: [Entry]) {
        var byType: [String: Entry] = [:]
        for entry in entries {
            precondition(byType[entry.type] == nil, "\(entry.type) registered twice")
            byType[entry.type] = entry
        }
        self.entries = byType
        currentTypes = entries.map(\.currentType)
    }

    /// The entry for `type`, if it is catalogued.
    public func entry(_ type: String) -> Entry? { entries[type] }

    /// Every catalogued type, sorted.
    public var types: [String] { entries.keys.sorted() }

    /// The payload of `event` upcast to its type's current version.
    public func currentPayload(of event: Event) throws(PayloadError) -> (version: Int, payload: JSONValue) {
        guard let entry = entries[event.type] else {
            throw PayloadError(path: "", detail: "unknown event type", type: event.type)
        }
        guard entry.versions.contains(event.version) else {
            throw PayloadError(path: "", detail: "version \(event.version) is not one of \(entry.versions)", type: event.type)
        }
        var payload = event.payload
        var version = event.version
        while version < entry.currentVersion {
            guard let step = entry.upcasters[version] else {
                throw PayloadError(path: "", detail: "no upcaster from version \(version)", type: event.type)
            }
            do {
                payload = try step.transform(payload)
            } catch {
                throw PayloadError(path: error.path, detail: "\(error.detail) (as version \(version))", type: event.type)
            }
            version += 1
        }
        return (version, payload)
    }

    /// Checks that `event`'s payload is valid for its type and version.
    public func validate(_ event: Event) throws(PayloadError) {
        let current = try currentPayload(of: event)
        guard let entry = entries[event.type] else { return }
        do {
            try entry.validateCurrent(current.payload)
        } catch {
            throw PayloadError(path: error.path, detail: error.detail, type: event.type)
        }
    }

    /// The payload of `event` as `P`, upcast from older versions.
    public func payload<P: EventPayload>(of event: Event, as type: P.Type) throws(PayloadError) -> P {
        guard event.type == P.type else {
            throw PayloadError(path: "", detail: "is not a \(P.type) event", type: event.type)
        }
        do throws(PayloadError) {
            // Stored at the current version (the common case): nothing to upcast, so the bytes
            // are read in place instead of through a `JSONValue` tree.
            if event.version == P.version, currentTypes.contains(ObjectIdentifier(P.self)) {
                return try P(payloadBytes: event.payloadBytes)
            }
            let current = try currentPayload(of: event)
            guard current.version == P.version else {
                throw PayloadError(path: "", detail: "current version is \(current.version), \(P.self) is version \(P.version)", type: event.type)
            }
            return try P(json: current.payload)
        } catch {
            throw PayloadError(path: error.path, detail: error.detail, type: event.type)
        }
    }
}

extension EventCatalog.Entry {
    /// Registers `P` as the current version of its type, with the upcasters that reach it.
    public init<P: EventPayload>(_ payload: P.Type, upcasters: [Upcaster] = []) {
        type = P.type
        currentVersion = P.version
        var byVersion: [Int: Upcaster] = [:]
        for upcaster in upcasters { byVersion[upcaster.fromVersion] = upcaster }
        precondition(Set(byVersion.keys) == Set((P.version - upcasters.count)..<P.version), "\(P.type): upcasters must cover every older version")
        self.upcasters = byVersion
        validateCurrent = { (json) throws(PayloadError) in _ = try P(json: json) }
        currentType = ObjectIdentifier(P.self)
    }
}

extension Event {
    /// The payload as `P`, upcast from the stored version when older.
    public func payload<P: EventPayload>(as type: P.Type, catalog: EventCatalog = .standard) throws(PayloadError) -> P {
        try catalog.payload(of: self, as: type)
    }
}
