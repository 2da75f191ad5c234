#!/usr/bin/env python3
"""Writes the JSON Schemas (draft 2020-12) of every event payload and of the envelope.

The field tables below mirror the Swift payload structs in Sources/Events/Model/Payloads/;
EventsTests validates generated events of every type against the written files, so a drift
between the two fails the tests. Run: python3 schemas/events/generate.py
"""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
DRAFT = "https://json-schema.org/draft/2020-12/schema"
MAX_INT = 9007199254740991

DECIMAL = {"type": "string", "pattern": r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$",
           "description": "exact decimal number as text"}
DATE = {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", "description": "YYYY-MM-DD"}
TIME = {"type": "string",
        "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z$",
        "description": "UTC instant, RFC 3339 with milliseconds"}
TEXT = {"type": "string"}
NAME = {"type": "string", "minLength": 1}
COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
RANK = {"type": "integer", "minimum": 1, "maximum": MAX_INT}
HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def enum(*values):
    return {"type": "string", "enum": list(values)}


def array(item):
    return {"type": "array", "items": item}


def obj(required, optional=None, description=None):
    optional = optional or {}
    schema = {"type": "object", "properties": {**required, **optional},
              "required": sorted(required), "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


BAR_V1 = {"date": DATE, "open": DECIMAL, "high": DECIMAL, "low": DECIMAL, "close": DECIMAL, "volume": COUNT}
VENUE = enum("bithumb", "coingecko")
TICKER_REQUIRED = {"venue": VENUE, "market": NAME, "base": TEXT, "quote": TEXT, "lastPrice": DECIMAL, "timestampMs": COUNT}
TICKER_OPTIONAL = {k: DECIMAL for k in ["openPrice", "highPrice", "lowPrice", "prevClosePrice", "volume24h",
                                        "quoteVolume24h", "changePrice24h", "changeRate24h"]}
PLATFORM = enum("x", "truthsocial")

PAYLOADS = {
    ("bar.daily", 1): obj(BAR_V1, description="Daily bar, first shape (subject = ticker)."),
    ("bar.daily", 2): obj(BAR_V1, {"adjClose": DECIMAL}, "Daily bar (subject = ticker); adjClose also adjusts for dividends."),
    ("bar.intraday", 1): obj({"interval": enum("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h"), "start": TIME,
                              "open": DECIMAL, "high": DECIMAL, "low": DECIMAL, "close": DECIMAL, "volume": COUNT},
                             description="Intraday bar starting at `start` (subject = ticker)."),
    ("trade", 1): obj({"price": DECIMAL, "size": DECIMAL, "timestampMs": COUNT, "conditions": array(TEXT)},
                      description="One trade print (subject = symbol); natural key (symbol, timestampMs)."),
    ("market.mover", 1): obj({"category": enum("gainer", "loser", "most_active"), "rank": RANK, "price": DECIMAL,
                              "changeAmount": DECIMAL, "changePercent": DECIMAL, "volume": COUNT},
                             description="Top gainer / loser / most active entry (subject = ticker)."),
    ("corporate.split", 1): obj({"date": DATE, "numerator": DECIMAL, "denominator": DECIMAL},
                                description="Stock split, numerator:denominator new:old shares (subject = ticker)."),
    ("corporate.dividend", 1): obj({"date": DATE, "amount": DECIMAL}, {"currency": TEXT},
                                   "Cash dividend per share by ex-date (subject = ticker)."),
    ("macro.observation", 1): obj({"seriesId": NAME, "date": DATE,
                                   "value": {"type": "string", "pattern": r"^(-?(0|[1-9][0-9]*)(\.[0-9]+)?|\.)$",
                                             "description": "decimal text, or \".\" for missing"}},
                                  description="FRED observation (subject = series id)."),
    ("etf.holding", 1): obj({"fund": NAME, "name": TEXT, "weight": DECIMAL, "asOf": DATE, "rank": RANK},
                            {"symbol": TEXT, "shares": DECIMAL, "marketValue": DECIMAL},
                            "Fund constituent on asOf; weight in percent (subject = fund)."),
    ("etf.profile", 1): obj({"name": TEXT, "etfType": TEXT},
                            {"sector": TEXT, "description": TEXT, "family": TEXT, "expenseRatio": DECIMAL,
                             "totalAssets": DECIMAL, "inceptionDate": DATE},
                            "Fund metadata (subject = fund)."),
    ("index.constituent", 1): obj({"index": NAME, "symbol": NAME, "name": TEXT},
                                  {"sector": TEXT, "subIndustry": TEXT, "headquarters": TEXT, "dateAdded": DATE,
                                   "cik": TEXT, "founded": TEXT},
                                  "Index membership (subject = ticker)."),
    ("company.overview", 1): obj({"name": TEXT},
                                 {k: TEXT for k in ["assetType", "exchange", "currency", "country", "sector", "industry", "description"]}
                                 | {k: DECIMAL for k in ["marketCap", "sharesOutstanding", "peRatio", "eps", "dividendYield",
                                                         "beta", "week52High", "week52Low"]}
                                 | {"latestQuarter": DATE},
                                 "Company overview (subject = ticker)."),
    ("company.balance_sheet", 1): obj({"period": enum("annual", "quarterly"), "fiscalDateEnding": DATE, "reportedCurrency": TEXT},
                                      {k: DECIMAL for k in ["totalAssets", "totalCurrentAssets", "cashAndEquivalents",
                                                            "totalLiabilities", "totalCurrentLiabilities", "shortTermDebt",
                                                            "longTermDebt", "totalShareholderEquity", "retainedEarnings",
                                                            "sharesOutstanding"]},
                                      "Balance sheet report (subject = ticker)."),
    ("earnings.calendar", 1): obj({"name": TEXT, "reportDate": DATE, "fiscalDateEnding": DATE, "currency": TEXT},
                                  {"estimate": DECIMAL}, "Scheduled earnings report (subject = ticker)."),
    ("news.article", 1): obj({"url": NAME, "title": TEXT, "source": TEXT, "publishedAt": TIME, "authors": array(TEXT),
                              "topics": array(obj({"topic": TEXT, "relevance": DECIMAL})),
                              "tickers": array(obj({"ticker": TEXT, "relevance": DECIMAL},
                                                   {"sentimentScore": DECIMAL, "sentimentLabel": TEXT}))},
                             {"summary": TEXT, "category": TEXT, "imageUrl": TEXT, "overallSentimentScore": DECIMAL,
                              "overallSentimentLabel": TEXT},
                             "News article (subject = canonical URL)."),
    ("social.post", 1): obj({"platform": PLATFORM, "postId": NAME, "authorId": TEXT, "text": TEXT, "createdAt": TIME,
                             "metrics": obj({}, {k: COUNT for k in ["likes", "reposts", "replies", "quotes", "impressions", "bookmarks"]})},
                            {"authorHandle": TEXT, "url": TEXT},
                            "Social post (subject = author handle); natural key (platform, postId)."),
    ("social.profile", 1): obj({"platform": PLATFORM, "userId": NAME, "username": NAME},
                               {"displayName": TEXT, "description": TEXT, "followers": COUNT, "following": COUNT,
                                "posts": COUNT, "verified": {"type": "boolean"}, "createdAt": TIME},
                               "Social account (subject = handle)."),
    ("crypto.listing", 1): obj({"venue": VENUE, "symbol": NAME},
                               {k: TEXT for k in ["market", "coinId", "name", "koreanName", "englishName", "warning"]},
                               "Listed coin or market (subject = symbol)."),
    ("crypto.market", 1): obj({"coinId": TEXT, "symbol": TEXT, "name": TEXT, "vsCurrency": TEXT, "currentPrice": DECIMAL},
                              {k: DECIMAL for k in ["marketCap", "totalVolume", "high24h", "low24h", "priceChange24h",
                                                    "priceChangePercentage24h", "circulatingSupply", "totalSupply", "maxSupply"]}
                              | {"marketCapRank": COUNT, "lastUpdated": TIME},
                              "CoinGecko market row (subject = symbol)."),
    ("crypto.ticker", 1): obj(TICKER_REQUIRED, TICKER_OPTIONAL,
                              "24 h ticker snapshot, first meaning (subject = base symbol): Bithumb's /public/ticker "
                              "as market BASE_QUOTE with changeRate24h in percent; upcast to v2."),
    ("crypto.ticker", 2): obj(TICKER_REQUIRED, TICKER_OPTIONAL,
                              "24 h ticker snapshot (subject = base symbol); natural key (venue, market). Bithumb markets are "
                              "QUOTE-BASE (KRW-BTC); changeRate24h is a signed fraction (-0.0138 = -1.38 %)."),
    ("stage.decision", 1): obj({"stage": NAME, "asOf": DATE, "watermark": COUNT, "decision": TEXT, "details": {"type": "object"}},
                               description="A stage's recorded decision (subject = stage)."),
    ("ingest.cursor", 1): obj({"source": NAME, "plan": NAME, "position": COUNT}, {"total": COUNT, "lastKey": TEXT},
                              "Progressive collection cursor (subject = source/plan)."),
    ("ingest.rejected", 1): obj({"source": NAME, "request": TEXT, "error": TEXT, "bodySha256": HEX64},
                                {"bodySize": COUNT, "httpStatus": COUNT},
                                "Rejected response kept in quarantine (subject = source)."),
}

ENVELOPE = {
    "$schema": DRAFT,
    "$id": "https://tickfold.dev/schemas/events/envelope.json",
    "title": "Tickfold event envelope",
    "description": "id = lowercase hex SHA-256 of the RFC 8785 canonical JSON of {type, version, source, subject, occurredAt, payload}.",
    "type": "object",
    "properties": {
        "id": HEX64,
        "type": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", "maxLength": 64},
        "version": {"type": "integer", "minimum": 1},
        "source": {"type": "string", "minLength": 1},
        "subject": {"type": "string", "minLength": 1},
        "occurredAt": TIME,
        "observedAt": TIME,
        "payload": {"type": "object"},
        "provenance": obj({}, {"request": TEXT, "causation": TEXT}) | {"minProperties": 1},
        "seq": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    },
    "required": ["id", "occurredAt", "payload", "source", "subject", "type", "version"],
    "additionalProperties": False,
}


def main():
    for path in HERE.glob("*.json"):
        path.unlink()
    (HERE / "envelope.json").write_text(json.dumps(ENVELOPE, indent=2, ensure_ascii=False) + "\n")
    for (type_, version), schema in sorted(PAYLOADS.items()):
        document = {"$schema": DRAFT, "$id": f"https://tickfold.dev/schemas/events/{type_}.v{version}.json",
                    "title": f"{type_} v{version} payload"} | schema
        (HERE / f"{type_}.v{version}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
