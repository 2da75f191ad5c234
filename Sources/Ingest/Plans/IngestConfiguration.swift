import Foundation

/// The `ingest` section of `tickfold.json`: the seeds' collection strategies as data. Plans
/// name the requests to make; lists hold the symbols, series and accounts they iterate;
/// sources carry limits and the environment variable their keys come from (never the keys).
/// `tickfold.example.json` documents every field.
public struct IngestConfiguration: Sendable, Codable, Equatable {
    /// Named item lists that steps iterate (`etfs`, `stocks`, `x_primary` …).
    public var lists: [String: [PlanItem]]
    /// Per-source settings, by source id (`alpha_vantage`).
    public var sources: [String: SourceSettings]
    /// The plans, by name (`etf-daily`, `stocks` …).
    public var plans: [String: IngestPlan]
    /// Where malformed responses are kept (default: `quarantine` beside the log directory).
    public var quarantine: String?
    /// Where the quota ledger lives (default: `ingest-state` beside the log directory).
    public var stateDirectory: String?

    public init(lists: [String: [PlanItem]] = [:], sources: [String: SourceSettings] = [:], plans: [String: IngestPlan] = [:],
                quarantine: String? = nil, stateDirectory: String? = nil) {
        self.lists = lists
        self.sources = sources
        self.plans = plans
        self.quarantine = quarantine
        self.stateDirectory = stateDirectory
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lists = try c.decodeIfPresent([String: [PlanItem]].self, forKey: .lists) ?? [:]
        sources = try c.decodeIfPresent([String: SourceSettings].self, forKey: .sources) ?? [:]
        plans = try c.decodeIfPresent([String: IngestPlan].self, forKey: .plans) ?? [:]
        quarantine = try c.decodeIfPresent(String.self, forKey: .quarantine)
        stateDirectory = try c.decodeIfPresent(String.self, forKey: .stateDirectory)
    }

    /// The plan names of SPEC §3, in the order `all` runs them; configured plans with other
    /// names run after these, sorted.
    public static let standardPlanNames = ["etf-daily", "holdings", "stocks", "news", "social", "crypto", "macro", "earnings"]

    /// The plans `name` selects: one plan, or every configured plan for `all`.
    public func plans(named name: String) throws(IngestConfigurationError) -> [(name: String, plan: IngestPlan)] {
        if name == "all" {
            let extra = plans.keys.filter { !Self.standardPlanNames.contains($0) }.sorted()
            return (Self.standardPlanNames + extra).compactMap { name in plans[name].map { (name, $0) } }
        }
        guard let plan = plans[name] else {
            let known = plans.keys.sorted().joined(separator: ", ")
            throw IngestConfigurationError("no plan named \(name) in the ingest configuration (configured: \(known.isEmpty ? "none" : known), or all)")
        }
        return [(name, plan)]
    }

    /// Reads the `ingest` section of the JSON configuration file at `path`; a file without
    /// one yields an empty configuration.
    public static func load(fromFile path: String) throws(IngestConfigurationError) -> IngestConfiguration {
        try from(ConfigurationDocument.load(fromFile: path))
    }

    /// Decodes a whole configuration document (`{"ingest": {…}, …}`) and checks it.
    public static func decode(_ bytes: [UInt8], origin: String) throws(IngestConfigurationError) -> IngestConfiguration {
        try from(ConfigurationDocument.parse(bytes, origin: origin))
    }

    /// The `ingest` section of a parsed document, decoded strictly and checked.
    public static func from(_ document: ConfigurationDocument) throws(IngestConfigurationError) -> IngestConfiguration {
        let configuration = try document.section("ingest", as: IngestConfiguration.self) ?? IngestConfiguration()
        try configuration.validate(origin: document.origin)
        return configuration
    }

    /// Checks what decoding cannot: lists named by steps exist, templates name known fields,
    /// step names are unique within a plan, endpoints are in the catalog.
    public func validate(origin: String, catalog: EndpointCatalog = .standard) throws(IngestConfigurationError) {
        for (planName, plan) in plans {
            var seen = Set<String>()
            for step in plan.steps {
                let at = "\(origin): ingest.plans.\(planName) step \(step.name)"
                guard seen.insert(step.name).inserted else { throw IngestConfigurationError("\(at): step names must be unique in a plan") }
                guard catalog.entry(source: step.source, endpoint: step.endpoint) != nil else {
                    throw IngestConfigurationError("\(at): no parser for source \(step.source) endpoint \(step.endpoint)")
                }
                if case .named(let list) = step.each, lists[list] == nil {
                    throw IngestConfigurationError("\(at): each names list \(list), which ingest.lists does not define")
                }
                if let batch = step.progressive?.batch, batch < 1 {
                    throw IngestConfigurationError("\(at): progressive.batch must be at least 1")
                }
                for day in (step.queriesByDay ?? [:]).keys where day != "*" && Weekday(name: day) == nil {
                    throw IngestConfigurationError("\(at): queriesByDay key \(day) is not a weekday (mon … sun or *)")
                }
                for day in step.days ?? [] where Weekday(name: day) == nil {
                    throw IngestConfigurationError("\(at): days entry \(day) is not a weekday (mon … sun)")
                }
                for item in items(of: step) {
                    if let frequency = item.frequency, Frequency(frequency) == nil {
                        throw IngestConfigurationError("\(at): frequency \(frequency) is not daily, weekdays, every_2_days, twice_weekly, weekly or a list of weekdays")
                    }
                }
            }
        }
    }

    /// The items a step iterates: its named or inline list, or one empty item for a step
    /// that makes a single request.
    public func items(of step: PlanStep) -> [PlanItem] {
        switch step.each {
        case .none: return [PlanItem(fields: [:])]
        case .named(let name): return lists[name] ?? []
        case .inline(let items): return items
        }
    }
}

/// Settings of one source: where its keys come from and how hard it may be called.
public struct SourceSettings: Sendable, Codable, Equatable {
    /// The environment variable with the keys (`NAME` or a file at `NAME_FILE`); default the
    /// source's own (`ALPHAVANTAGE_API_KEYS` …).
    public var keysVariable: String?
    /// Replaces the source's default limits (yfinance 5 s spacing, Alpha Vantage 5/min, 25/day).
    public var limits: RateLimitPolicy?
    public var retry: RetryPolicy?

    public init(keysVariable: String? = nil, limits: RateLimitPolicy? = nil, retry: RetryPolicy? = nil) {
        self.keysVariable = keysVariable
        self.limits = limits
        self.retry = retry
    }
}

/// One plan: when a scheduler should run it, and its steps, run in order.
public struct IngestPlan: Sendable, Codable, Equatable {
    /// A cron expression for the scheduler (`0 9 * * 1-5`); `ingest run` itself runs the plan
    /// whenever called.
    public var schedule: String?
    public var description: String?
    public var steps: [PlanStep]

    public init(schedule: String? = nil, description: String? = nil, steps: [PlanStep]) {
        self.schedule = schedule
        self.description = description
        self.steps = steps
    }
}

/// One kind of request of a plan, made once per item of its list.
///
/// `path`, `query` values and `subject` are templates: `{field}` takes an item field
/// (`{symbol}`, `{id}` …), `{asOf}` the run's date, `{asOf-7}` / `{asOf+1}` a date that many
/// days away (ISO `YYYY-MM-DD`).
public struct PlanStep: Sendable, Codable, Equatable {
    /// Unique within the plan; names the cursor of a progressive step.
    public var name: String
    /// Source id (`yahoo_finance`, `alpha_vantage` …).
    public var source: String
    /// Endpoint name in the parser catalog (`chart`, `OVERVIEW` …).
    public var endpoint: String
    /// Request path below the source's base URL.
    public var path: String
    public var query: [String: String]?
    /// The list to iterate: a name in `lists`, or an inline array; absent = one request.
    public var each: ItemSource?
    /// What the request is about when the body does not say (default `{symbol}` when the
    /// item has a symbol).
    public var subject: String?
    /// Weekdays (`mon` … `sun`) the step runs on; absent = every day.
    public var days: [String]?
    /// Day-of-week query plans: extra parameter sets by weekday (`mon` … `sun`, `*` for the
    /// days not listed); each set is one request per item, merged over `query`.
    public var queriesByDay: [String: [[String: String]]]?
    /// Overrides the source's key variable: X account tiers each use their own token.
    public var keysVariable: String?
    /// Overrides the source's limits for this step (an X tier's 15-minute spacing).
    public var limits: RateLimitPolicy?
    /// Progressive collection: at most `batch` items per run, resuming at the recorded cursor.
    public var progressive: Progressive?

    public struct Progressive: Sendable, Codable, Equatable {
        public var batch: Int
        public init(batch: Int) { self.batch = batch }
    }

    public init(name: String, source: String, endpoint: String, path: String, query: [String: String]? = nil, each: ItemSource? = nil,
                subject: String? = nil, days: [String]? = nil, queriesByDay: [String: [[String: String]]]? = nil,
                keysVariable: String? = nil, limits: RateLimitPolicy? = nil, progressive: Progressive? = nil) {
        self.name = name
        self.source = source
        self.endpoint = endpoint
        self.path = path
        self.query = query
        self.each = each
        self.subject = subject
        self.days = days
        self.queriesByDay = queriesByDay
        self.keysVariable = keysVariable
        self.limits = limits
        self.progressive = progressive
    }
}

/// A step's item list: the name of a configured list, or the items themselves.
public enum ItemSource: Sendable, Codable, Equatable {
    case named(String)
    case inline([PlanItem])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let name = try? container.decode(String.self) {
            self = .named(name)
        } else {
            self = .inline(try container.decode([PlanItem].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .named(let name): try container.encode(name)
        case .inline(let items): try container.encode(items)
        }
    }
}

/// One item of a list: a bare string (`"SPY"`, the `symbol`) or an object of string fields
/// (`{"symbol": "elonmusk", "id": "44196397", "frequency": "daily"}`).
public struct PlanItem: Sendable, Codable, Equatable {
    public var fields: [String: String]

    public init(fields: [String: String]) { self.fields = fields }
    public init(symbol: String) { fields = ["symbol": symbol] }

    /// What identifies the item in cursors and reports: `symbol`, else `id`, else every field.
    public var key: String {
        fields["symbol"] ?? fields["id"] ?? fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// When the item is due (`daily`, `every_2_days`, `twice_weekly`, `weekly`, `weekdays`,
    /// or weekdays `mon,thu`); absent = every run.
    public var frequency: String? { fields["frequency"] }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let symbol = try? container.decode(String.self) {
            fields = ["symbol": symbol]
        } else {
            fields = try container.decode([String: String].self)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if fields.count == 1, let symbol = fields["symbol"] { try container.encode(symbol) } else { try container.encode(fields) }
    }
}

/// A configuration that cannot be used; says which file and field.
public struct IngestConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
