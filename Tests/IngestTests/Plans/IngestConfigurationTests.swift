import Events
import Foundation
import Ingest
import Testing
import TickfoldTesting

@Suite("Ingest configuration: plans as data", .onTestThreads)
struct IngestConfigurationTests {
    /// What decoding `json` as the file `t.json` says: "accepted" or the error.
    private func message(_ json: String) -> String {
        do {
            _ = try IngestConfiguration.decode(Array(json.utf8), origin: "t.json")
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test("the example and the fixture configurations decode, validate and define the eight plans")
    func bundledFiles() throws {
        for path in ["\(Repository.root)/tickfold.example.json", "\(Repository.fixtures)/tickfold.json"] {
            let configuration = try IngestConfiguration.load(fromFile: path)
            #expect(Set(configuration.plans.keys).isSuperset(of: IngestConfiguration.standardPlanNames), "\(path)")
            #expect(try configuration.plans(named: "all").map(\.name) == IngestConfiguration.standardPlanNames)
        }
    }

    @Test("errors name the file and the field")
    func errors() {
        let step = #"{"name": "a", "source": "yahoo_finance", "endpoint": "chart", "path": "/x/{symbol}", "each": "%@"}"#
        #expect(message(#"{"ingest": {"plans": {"p": {"steps": [\#(step.replacingOccurrences(of: "%@", with: "nope"))]}}}}"#)
            == "t.json: ingest.plans.p step a: each names list nope, which ingest.lists does not define")
        #expect(message(#"{"ingest": {"plans": {"p": {"steps": [{"name": "a", "source": "yahoo_finance", "endpoint": "nope", "path": "/"}]}}}}"#)
            .contains("no parser for source yahoo_finance endpoint nope"))
        #expect(message(#"{"ingest": {"plans": {"p": {"steps": [{"name": "a", "source": "yahoo_finance"}]}}}}"#) == "configuration file t.json: ingest.plans.p.steps[0].endpoint: required field is missing")
        #expect(message(#"{"ingest": {"lists": {"l": [{"symbol": "A", "frequency": "hourly"}]}, "plans": {"p": {"steps": [\#(step.replacingOccurrences(of: "%@", with: "l"))]}}}}"#)
            .contains("frequency hourly"))
        #expect(message(#"{"ingest": {"plans": {"p": {"steps": [{"name": "a", "source": "alpha_vantage", "endpoint": "NEWS_SENTIMENT", "path": "/query", "queriesByDay": {"funday": []}}]}}}}"#)
            .contains("queriesByDay key funday"))
        #expect(message(#"{"log": "x"}"#) == "accepted")
        #expect(throws: IngestConfigurationError.self) { try IngestConfiguration().plans(named: "etf-daily") }
    }

    @Test("the configuration document: syntax errors by line and column, unknown or mistyped keys refused, $ keys free")
    func document() throws {
        #expect(message("{\n  \"log\": \"x\",\n  \"pg\" \"y\"\n}").hasPrefix("configuration file t.json:3:8: unexpected byte"))
        #expect(message("{\"log\": \"x\"").hasPrefix("configuration file t.json:1:12: unexpected end of input"))
        #expect(message(#"{"pgg": "postgresql://h/db"}"#).hasPrefix(#"configuration file t.json: unknown key "pgg" (did you mean "pg"?) (known: auditTargets, endpoints, ingest, kafka, log, pg, redis, topicPrefix"#))
        #expect(message(#"{"Kafka": "h:1"}"#).contains(#"(did you mean "kafka"?)"#))
        #expect(message(#"{"zzzzzz": 1}"#).hasPrefix(#"configuration file t.json: unknown key "zzzzzz" (known: "#))
        #expect(message(#"{"log": 5}"#).hasPrefix("configuration file t.json: log must be a JSON string, not the number 5"))
        #expect(message(#"{"ingest": []}"#) == "configuration file t.json: ingest must be a JSON object, not an array")
        #expect(message("[1]") == "configuration file t.json must hold a JSON object, not an array")
        #expect(message(#"{"$comment": "notes", "$schema": {"any": [1]}, "log": "x"}"#) == "accepted")
        // Inside the ingest section a misspelt member is named by its path from the top.
        #expect(message(#"{"ingest": {"sources": {"fred": {"keysVariabel": "X"}}}}"#) == "configuration file t.json: ingest.sources.fred.keysVariabel: unknown field")
        #expect(message(#"{"ingest": {"sources": {"fred": {"limits": {"maxWait": "soon"}}}}}"#).hasPrefix("configuration file t.json: ingest.sources.fred.limits.maxWait: "))
        #expect(message(#"{"ingest": {"quarantin": "q"}}"#) == "configuration file t.json: ingest.quarantin: unknown field")
    }

    @Test("weekdays and frequencies follow the calendar, not the time of the run")
    func calendar() throws {
        let thursday = try LocalDate("2026-04-16")
        #expect(Weekday(thursday) == .thursday)
        #expect(Weekday(try LocalDate("1970-01-01")) == .thursday)
        #expect(Weekday(try LocalDate("2026-04-19")) == .sunday)
        #expect(Frequency("twice_weekly")?.isDue(on: thursday) == true)
        #expect(Frequency("weekly")?.isDue(on: thursday) == false)
        #expect(Frequency("mon, thu")?.isDue(on: thursday) == true)
        #expect(Frequency("weekdays")?.isDue(on: try LocalDate("2026-04-18")) == false)
        let everyOther = try #require(Frequency("every_2_days"))
        #expect(everyOther.isDue(on: thursday) != everyOther.isDue(on: LocalDate(daysSinceEpoch: thursday.daysSinceEpoch + 1)))
        #expect(Frequency("hourly") == nil)
    }

    @Test("day-of-week query plans and date templates come from asOf")
    func requestsFromAsOf() throws {
        let configuration = try IngestConfiguration.load(fromFile: "\(Repository.root)/tickfold.example.json")
        let news = try #require(configuration.plans["news"]?.steps.first { $0.name == "sentiment" })
        let monday = try news.requests(for: PlanItem(fields: [:]), on: try LocalDate("2026-04-13"))
        let thursday = try news.requests(for: PlanItem(fields: [:]), on: try LocalDate("2026-04-16"))
        #expect(monday.count == 4)
        #expect(monday.first?.parameters == ["function": "NEWS_SENTIMENT", "sort": "LATEST", "limit": "50", "topics": "energy_transportation"])
        #expect(thursday.first?.parameters["topics"] == "earnings")

        let finnhub = try #require(configuration.plans["news"]?.steps.first { $0.name == "company-news" })
        let request = try #require(try finnhub.requests(for: PlanItem(symbol: "AAPL"), on: try LocalDate("2026-03-03")).first)
        #expect(request.parameters == ["symbol": "AAPL", "from": "2026-02-25", "to": "2026-03-03"])
        #expect(request.subject == "AAPL")
        #expect(IngestRunner.fingerprint(source: "finnhub", request.request) == "finnhub GET /company-news?from=2026-02-25&symbol=AAPL&to=2026-03-03")

        let tweets = try #require(configuration.plans["social"]?.steps.first { $0.name == "x-secondary-tweets" })
        let account = PlanItem(fields: ["username": "Twitter", "id": "783214", "frequency": "twice_weekly"])
        #expect(try tweets.requests(for: account, on: try LocalDate("2026-04-16")).first?.request.path == "/2/users/783214/tweets")
        #expect(try tweets.requests(for: account, on: try LocalDate("2026-04-15")).isEmpty)
        #expect(tweets.keysVariable == "X_BEARER_TOKEN_SECONDARY")

        #expect(throws: IngestConfigurationError.self) { try tweets.requests(for: PlanItem(symbol: "X"), on: try LocalDate("2026-04-16")) }
        let profiles = try #require(configuration.plans["social"]?.steps.first { $0.name == "x-profiles" })
        #expect(profiles.runs(on: try LocalDate("2026-04-19")))
        #expect(!profiles.runs(on: try LocalDate("2026-04-16")))
    }
}
