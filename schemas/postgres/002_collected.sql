-- The collected layer (SPEC §2.1), projection `collected` v1: one row per natural key.
-- Every table ends in `seq` (log position of the event that last wrote the row; only a
-- higher seq may overwrite it) and `event_id` (that event's id, lowercase hex).
-- Decimals are `numeric`, which keeps the scale the event gave ("1.50" stays 1.50); the
-- only text that does not round-trip is negative zero ("-0.0" reads back as 0.0).

CREATE TABLE collected_daily_bars (
    ticker          text    NOT NULL,
    trade_date      date    NOT NULL,
    open_price      numeric NOT NULL,
    high_price      numeric NOT NULL,
    low_price       numeric NOT NULL,
    close_price     numeric NOT NULL,
    adj_close_price numeric,
    volume          bigint  NOT NULL,
    source          text    NOT NULL,
    seq             bigint  NOT NULL,
    event_id        text    NOT NULL,
    PRIMARY KEY (ticker, trade_date)
);

CREATE TABLE collected_meta_etf (
    ticker         text PRIMARY KEY,
    name           text NOT NULL,
    etf_type       text NOT NULL,
    sector_name    text,
    description    text,
    family         text,
    expense_ratio  numeric,
    total_assets   numeric,
    inception_date date,
    seq            bigint NOT NULL,
    event_id       text   NOT NULL
);

CREATE TABLE collected_etf_holdings (
    etf_ticker      text    NOT NULL,
    holding_key     text    NOT NULL,
    as_of_date      date    NOT NULL,
    stock_ticker    text,
    stock_name      text    NOT NULL,
    holding_percent numeric NOT NULL,
    holding_rank    bigint  NOT NULL,
    shares          numeric,
    market_value    numeric,
    seq             bigint  NOT NULL,
    event_id        text    NOT NULL,
    PRIMARY KEY (etf_ticker, holding_key, as_of_date)
);

CREATE TABLE collected_index_constituents (
    index_name   text NOT NULL,
    symbol       text NOT NULL,
    company_name text NOT NULL,
    sector       text,
    sub_industry text,
    headquarters text,
    date_added   date,
    cik          text,
    founded      text,
    seq          bigint NOT NULL,
    event_id     text   NOT NULL,
    PRIMARY KEY (index_name, symbol)
);

CREATE TABLE collected_company_overview (
    ticker             text PRIMARY KEY,
    name               text NOT NULL,
    asset_type         text,
    exchange           text,
    currency           text,
    country            text,
    sector             text,
    industry           text,
    description        text,
    market_cap         numeric,
    shares_outstanding numeric,
    pe_ratio           numeric,
    eps                numeric,
    dividend_yield     numeric,
    beta               numeric,
    week52_high        numeric,
    week52_low         numeric,
    latest_quarter     date,
    seq                bigint NOT NULL,
    event_id           text   NOT NULL
);

CREATE TABLE collected_balance_sheet (
    ticker                    text NOT NULL,
    period                    text NOT NULL,
    fiscal_date_ending        date NOT NULL,
    reported_currency         text NOT NULL,
    total_assets              numeric,
    total_current_assets      numeric,
    cash_and_equivalents      numeric,
    total_liabilities         numeric,
    total_current_liabilities numeric,
    short_term_debt           numeric,
    long_term_debt            numeric,
    total_shareholder_equity  numeric,
    retained_earnings         numeric,
    shares_outstanding        numeric,
    seq                       bigint NOT NULL,
    event_id                  text   NOT NULL,
    PRIMARY KEY (ticker, period, fiscal_date_ending)
);

CREATE TABLE collected_earnings_calendar (
    ticker             text NOT NULL,
    report_date        date NOT NULL,
    company_name       text NOT NULL,
    fiscal_date_ending date NOT NULL,
    estimate           numeric,
    currency           text NOT NULL,
    seq                bigint NOT NULL,
    event_id           text   NOT NULL,
    PRIMARY KEY (ticker, report_date)
);

-- Top gainers / losers / most active; trade_date is the UTC date of the event's occurredAt.
CREATE TABLE collected_market_movers (
    category       text    NOT NULL,
    trade_date     date    NOT NULL,
    ticker         text    NOT NULL,
    mover_rank     bigint  NOT NULL,
    price          numeric NOT NULL,
    change_amount  numeric NOT NULL,
    change_percent numeric NOT NULL,
    volume         bigint  NOT NULL,
    seq            bigint  NOT NULL,
    event_id       text    NOT NULL,
    PRIMARY KEY (category, trade_date, ticker)
);

-- Market and company news, one row per canonical URL (the event subject).
CREATE TABLE collected_market_news (
    canonical_url           text        PRIMARY KEY,
    url                     text        NOT NULL,
    title                   text        NOT NULL,
    summary                 text,
    publisher               text        NOT NULL,
    published_at            timestamptz NOT NULL,
    authors                 text[]      NOT NULL,
    category                text,
    image_url               text,
    overall_sentiment_score numeric,
    overall_sentiment_label text,
    topics                  text[]      NOT NULL,
    topic_relevances        numeric[]   NOT NULL,
    seq                     bigint      NOT NULL,
    event_id                text        NOT NULL
);

-- Tickers an article mentions, with sentiment. An upsert never deletes, so a ticker dropped
-- by a later version of the article keeps its old row; read through the view below.
CREATE TABLE collected_market_news_tickers (
    canonical_url   text    NOT NULL,
    ticker          text    NOT NULL,
    relevance       numeric NOT NULL,
    sentiment_score numeric,
    sentiment_label text,
    seq             bigint  NOT NULL,
    event_id        text    NOT NULL,
    PRIMARY KEY (canonical_url, ticker)
);
CREATE INDEX collected_market_news_tickers_ticker ON collected_market_news_tickers (ticker);

CREATE TABLE collected_social_posts (
    platform      text        NOT NULL,
    post_id       text        NOT NULL,
    author_id     text        NOT NULL,
    author_handle text,
    text          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    url           text,
    likes         bigint,
    reposts       bigint,
    replies       bigint,
    quotes        bigint,
    impressions   bigint,
    bookmarks     bigint,
    seq           bigint      NOT NULL,
    event_id      text        NOT NULL,
    PRIMARY KEY (platform, post_id)
);

CREATE TABLE collected_social_profiles (
    platform     text NOT NULL,
    user_id      text NOT NULL,
    username     text NOT NULL,
    display_name text,
    description  text,
    followers    bigint,
    following    bigint,
    posts        bigint,
    verified     boolean,
    created_at   timestamptz,
    seq          bigint NOT NULL,
    event_id     text   NOT NULL,
    PRIMARY KEY (platform, user_id)
);

CREATE TABLE collected_crypto_listings (
    venue        text NOT NULL,
    listing_key  text NOT NULL,
    symbol       text NOT NULL,
    market       text,
    coin_id      text,
    name         text,
    korean_name  text,
    english_name text,
    warning      text,
    seq          bigint NOT NULL,
    event_id     text   NOT NULL,
    PRIMARY KEY (venue, listing_key)
);

CREATE TABLE collected_crypto_markets (
    coin_id                     text    NOT NULL,
    vs_currency                 text    NOT NULL,
    symbol                      text    NOT NULL,
    name                        text    NOT NULL,
    current_price               numeric NOT NULL,
    market_cap                  numeric,
    market_cap_rank             bigint,
    total_volume                numeric,
    high_24h                    numeric,
    low_24h                     numeric,
    price_change_24h            numeric,
    price_change_percentage_24h numeric,
    circulating_supply          numeric,
    total_supply                numeric,
    max_supply                  numeric,
    last_updated                timestamptz,
    seq                         bigint  NOT NULL,
    event_id                    text    NOT NULL,
    PRIMARY KEY (coin_id, vs_currency)
);

CREATE TABLE collected_crypto_tickers (
    venue            text    NOT NULL,
    market           text    NOT NULL,
    base             text    NOT NULL,
    quote            text    NOT NULL,
    last_price       numeric NOT NULL,
    open_price       numeric,
    high_price       numeric,
    low_price        numeric,
    prev_close_price numeric,
    volume_24h       numeric,
    quote_volume_24h numeric,
    change_price_24h numeric,
    change_rate_24h  numeric,
    timestamp_ms     bigint  NOT NULL,
    seq              bigint  NOT NULL,
    event_id         text    NOT NULL,
    PRIMARY KEY (venue, market)
);

-- FRED series; value is NULL where FRED wrote its missing marker ".", kept in value_text.
CREATE TABLE collected_macro_observations (
    series_id        text NOT NULL,
    observation_date date NOT NULL,
    value            numeric,
    value_text       text NOT NULL,
    seq              bigint NOT NULL,
    event_id         text   NOT NULL,
    PRIMARY KEY (series_id, observation_date)
);

-- Trades, deduplicated by (symbol, timestamp_ms) as the seeds did.
CREATE TABLE collected_trades (
    symbol       text    NOT NULL,
    timestamp_ms bigint  NOT NULL,
    price        numeric NOT NULL,
    size         numeric NOT NULL,
    conditions   text[]  NOT NULL,
    seq          bigint  NOT NULL,
    event_id     text    NOT NULL,
    PRIMARY KEY (symbol, timestamp_ms)
);

-- Reading views. Values that depend on several events are computed here from converged
-- rows, never stored by a fold, so they are the same whatever order events arrived in.

-- ETF bars: tickers with an etf.profile. price_change_percent = close vs the previous bar's
-- close of the same ticker, in percent, rounded to 6 decimals (SPEC-analytics).
CREATE VIEW collected_daily_etf_ohlc AS
SELECT b.ticker, b.trade_date, b.open_price, b.high_price, b.low_price, b.close_price,
       b.adj_close_price, b.volume,
       round((b.close_price - lag(b.close_price) OVER w) * 100 / nullif(lag(b.close_price) OVER w, 0), 6)
           AS price_change_percent,
       b.seq, b.event_id
FROM collected_daily_bars b
WHERE EXISTS (SELECT 1 FROM collected_meta_etf m WHERE m.ticker = b.ticker)
WINDOW w AS (PARTITION BY b.ticker ORDER BY b.trade_date);

-- Stock bars: tickers without an etf.profile, with sector and market cap from the company
-- overview (sector falls back to the S&P 500 constituent list).
CREATE VIEW collected_daily_stock_history AS
SELECT b.ticker, b.trade_date, b.open_price, b.high_price, b.low_price, b.close_price,
       b.adj_close_price, b.volume,
       round((b.close_price - lag(b.close_price) OVER w) * 100 / nullif(lag(b.close_price) OVER w, 0), 6)
           AS price_change_percent,
       coalesce(o.sector, c.sector) AS sector,
       o.market_cap,
       b.seq, b.event_id
FROM collected_daily_bars b
LEFT JOIN collected_company_overview o ON o.ticker = b.ticker
LEFT JOIN collected_index_constituents c ON c.index_name = 'sp500' AND c.symbol = b.ticker
WHERE NOT EXISTS (SELECT 1 FROM collected_meta_etf m WHERE m.ticker = b.ticker)
WINDOW w AS (PARTITION BY b.ticker ORDER BY b.trade_date);

CREATE VIEW collected_sp500_companies AS
SELECT symbol, company_name, sector, sub_industry, headquarters, date_added, cik, founded, seq, event_id
FROM collected_index_constituents
WHERE index_name = 'sp500';

-- Ticker sentiment of the current version of each article (rows written by its seq).
CREATE VIEW collected_news_ticker_sentiment AS
SELECT t.canonical_url, t.ticker, t.relevance, t.sentiment_score, t.sentiment_label, t.seq, t.event_id
FROM collected_market_news_tickers t
JOIN collected_market_news n ON n.canonical_url = t.canonical_url AND n.seq = t.seq;

-- Company news: articles by the tickers they mention.
CREATE VIEW collected_company_news AS
SELECT s.ticker, n.canonical_url, n.url, n.title, n.summary, n.publisher, n.published_at,
       s.relevance, s.sentiment_score, s.sentiment_label, n.seq, n.event_id
FROM collected_news_ticker_sentiment s
JOIN collected_market_news n ON n.canonical_url = s.canonical_url;
