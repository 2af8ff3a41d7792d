-- The pool's liquidity profile: net liquidity on every segment between initialised ticks, from the full
-- Mint/Burn history (expensive: years of events), and the current tick from the latest swap.
-- {{pool_events}} names the decoded event tables: uniswap_v3_ethereum.Pair on Ethereum,
-- uniswap_v3_<chain>.UniswapV3Pool elsewhere. Liquidity is raw (sqrt of raw token amounts).
WITH events AS (
    SELECT tickLower AS tick_lower, tickUpper AS tick_upper, CAST(amount AS double) AS liquidity_delta
    FROM {{pool_events}}_evt_Mint
    WHERE contract_address = {{pool}}
    UNION ALL
    SELECT tickLower, tickUpper, -CAST(amount AS double)
    FROM {{pool_events}}_evt_Burn
    WHERE contract_address = {{pool}}
),
positions AS (
    SELECT tick_lower, tick_upper, sum(liquidity_delta) AS liquidity
    FROM events
    GROUP BY 1, 2
    HAVING sum(liquidity_delta) > 0
),
edges AS (
    SELECT tick_lower AS tick, liquidity AS delta FROM positions
    UNION ALL
    SELECT tick_upper AS tick, -liquidity AS delta FROM positions
),
profile AS (
    SELECT tick,
           sum(sum(delta)) OVER (ORDER BY tick) AS liquidity,
           lead(tick) OVER (ORDER BY tick) AS next_tick
    FROM edges
    GROUP BY tick
),
latest AS (
    SELECT max_by(tick, to_unixtime(evt_block_time) * 1e4 + evt_index) AS current_tick
    FROM {{pool_events}}_evt_Swap
    WHERE contract_address = {{pool}}
      AND evt_block_time >= now() - INTERVAL '{{current_tick_lookback_days}}' DAY
)
SELECT CAST(p.tick AS bigint) AS tick_lower,
       CAST(p.next_tick AS bigint) AS tick_upper,
       p.liquidity,
       CAST(l.current_tick AS bigint) AS current_tick
FROM profile p
CROSS JOIN latest l
WHERE p.next_tick IS NOT NULL
  AND p.liquidity > 0
ORDER BY p.tick
