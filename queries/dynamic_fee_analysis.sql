-- Per minute: absolute log return, swap volume and LP fees of one pool over the last {{lookback_days}} days.
-- Volume (hence fees) rises with price moves; regressing volume on |return| gives the share of volume
-- that scales with volatility (the simulator's volume_vol_share) and the fee income per unit of move.
WITH swaps AS (
    SELECT date_trunc('minute', evt_block_time) AS minute,
           count(*) AS swap_count,
           max_by(tick, to_unixtime(evt_block_time) * 1e4 + evt_index) AS close_tick,
           sum(CASE WHEN amount0 > 0
                    THEN CAST(amount0 AS double) / power(10, {{token0_decimals}})
                    ELSE CAST(amount1 AS double) / power(10, {{token0_decimals}}) / power(1.0001, tick)
               END) AS volume_usd
    FROM uniswap_v3_ethereum.Pair_evt_Swap
    WHERE contract_address = {{pool}}
      AND evt_block_time >= date_trunc('minute', now()) - INTERVAL '{{lookback_days}}' DAY
      AND evt_block_time < date_trunc('minute', now())
    GROUP BY 1
),
pool AS (
    SELECT fee / 1e6 AS fee_tier
    FROM uniswap_v3_ethereum.Factory_evt_PoolCreated
    WHERE pool = {{pool}}
),
grid AS (
    SELECT timestamp AS minute
    FROM utils.minutes
    WHERE timestamp >= (SELECT min(minute) FROM swaps)
      AND timestamp <= (SELECT max(minute) FROM swaps)
),
filled AS (
    SELECT g.minute,
           coalesce(s.swap_count, 0) AS swap_count,
           coalesce(s.volume_usd, 0.0) AS volume_usd,
           last_value(s.close_tick) IGNORE NULLS OVER (ORDER BY g.minute) AS close_tick
    FROM grid g
    LEFT JOIN swaps s ON s.minute = g.minute
),
moves AS (
    SELECT minute, swap_count, volume_usd,
           abs(close_tick - lag(close_tick) OVER (ORDER BY minute)) * ln(1.0001) AS abs_log_return
    FROM filled
)
SELECT m.minute,
       m.abs_log_return,
       m.volume_usd,
       m.volume_usd * p.fee_tier AS fees_usd,
       CAST(m.swap_count AS bigint) AS swap_count
FROM moves m
CROSS JOIN pool p
WHERE m.abs_log_return IS NOT NULL
ORDER BY m.minute
