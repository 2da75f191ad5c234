-- The running 24 h trade volume per symbol behind `sp500_market_data` (projection
-- `collected` v3): the sum of `size` over the symbol's trades within 24 h (86,400,000 ms)
-- before its last trade. Kept by the sink in the transaction that merges the trades
-- (`TrailingSum` in Sources/Projections/Model), so a batch costs its own trades plus those
-- leaving the window instead of a sum over the whole window. Not a projected table: no
-- seq, never copied by a replay (recomputed from `collected_trades` instead).

CREATE TABLE collected_trade_volume_24h (
    subject   text    PRIMARY KEY,
    last_time bigint  NOT NULL,
    total     numeric NOT NULL
);

-- Schemas migrated before this table existed already hold trades.
INSERT INTO collected_trade_volume_24h (subject, last_time, total)
SELECT t.symbol, l.last_time, sum(t.size)
FROM collected_trades t
JOIN (SELECT symbol, max(timestamp_ms) AS last_time FROM collected_trades GROUP BY symbol) l ON l.symbol = t.symbol
WHERE t.timestamp_ms > l.last_time - 86400000
GROUP BY 1, 2;
