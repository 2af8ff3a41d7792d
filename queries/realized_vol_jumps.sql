-- One-minute closes of one Uniswap v3 pool over the last {{lookback_days}} days and their log returns.
-- A minute without swaps keeps the previous close (forward fill), so returns are on a regular grid.
-- Log return from ticks: price = 10^(dec1 - dec0) / 1.0001^tick, so r = -(tick_t - tick_{t-1}) * ln(1.0001).
-- The calibration measures realised volatility and jumps (|r - median| > jump_sigmas robust sigmas).
WITH swaps AS (
    SELECT date_trunc('minute', evt_block_time) AS minute,
           max_by(tick, to_unixtime(evt_block_time) * 1e4 + evt_index) AS close_tick
    FROM uniswap_v3_ethereum.Pair_evt_Swap
    WHERE contract_address = {{pool}}
      AND evt_block_time >= date_trunc('minute', now()) - INTERVAL '{{lookback_days}}' DAY
      AND evt_block_time < date_trunc('minute', now())
    GROUP BY 1
),
grid AS (
    SELECT timestamp AS minute
    FROM utils.minutes
    WHERE timestamp >= (SELECT min(minute) FROM swaps)
      AND timestamp <= (SELECT max(minute) FROM swaps)
),
filled AS (
    SELECT g.minute,
           last_value(s.close_tick) IGNORE NULLS OVER (ORDER BY g.minute) AS close_tick
    FROM grid g
    LEFT JOIN swaps s ON s.minute = g.minute
),
returns AS (
    SELECT minute,
           CAST(close_tick AS bigint) AS close_tick,
           power(10, {{token1_decimals}} - {{token0_decimals}}) / power(1.0001, close_tick) AS close_price_usd,
           -(close_tick - lag(close_tick) OVER (ORDER BY minute)) * ln(1.0001) AS log_return
    FROM filled
)
SELECT minute, close_tick, close_price_usd, log_return
FROM returns
WHERE log_return IS NOT NULL
ORDER BY minute
