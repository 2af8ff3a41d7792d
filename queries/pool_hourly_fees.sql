-- Hourly swap volume, LP fees and active (in-range) liquidity of one Uniswap v3 pool, last {{lookback_days}} days.
-- Default pool: USDC/WETH 0.05 % on Ethereum. token0 = USDC, token1 = WETH, so the price in USDC per
-- ETH is 10^(dec1 - dec0) / 1.0001^tick. A swap's volume is its input leg in USD (the fee is charged on it).
-- LP fee rate = fee tier x (1 - 1/feeProtocol) once the protocol fee switch is on (feeProtocol = 0: off).
WITH pool AS (
    SELECT fee / 1e6 AS fee_tier,
           tickSpacing AS tick_spacing
    FROM uniswap_v3_ethereum.Factory_evt_PoolCreated
    WHERE pool = {{pool}}
),
protocol AS (
    SELECT coalesce(max_by(feeProtocol0New, evt_block_time), 0) AS fee_protocol
    FROM uniswap_v3_ethereum.Pair_evt_SetFeeProtocol
    WHERE contract_address = {{pool}}
),
swaps AS (
    SELECT date_trunc('hour', evt_block_time) AS hour,
           to_unixtime(evt_block_time) * 1e4 + evt_index AS position,
           power(10, {{token1_decimals}} - {{token0_decimals}}) / power(1.0001, tick) AS price_usd,
           CAST(liquidity AS double) / power(10, ({{token0_decimals}} + {{token1_decimals}}) / 2.0) AS active_liquidity,
           CASE WHEN amount0 > 0
                THEN CAST(amount0 AS double) / power(10, {{token0_decimals}})
                ELSE CAST(amount1 AS double) / power(10, {{token0_decimals}}) / power(1.0001, tick)
           END AS volume_usd
    FROM uniswap_v3_ethereum.Pair_evt_Swap
    WHERE contract_address = {{pool}}
      AND evt_block_time >= date_trunc('hour', now()) - INTERVAL '{{lookback_days}}' DAY
      AND evt_block_time < date_trunc('hour', now())
)
SELECT s.hour,
       count(*) AS swap_count,
       sum(s.volume_usd) AS volume_usd,
       sum(s.volume_usd) * p.fee_tier * (1 - IF(f.fee_protocol > 0, 1.0 / f.fee_protocol, 0.0)) AS fees_usd,
       p.fee_tier,
       p.fee_tier * (1 - IF(f.fee_protocol > 0, 1.0 / f.fee_protocol, 0.0)) AS lp_fee_rate,
       CAST(p.tick_spacing AS bigint) AS tick_spacing,
       max_by(s.active_liquidity, s.position) AS active_liquidity,
       max_by(s.price_usd, s.position) AS close_price_usd
FROM swaps s
CROSS JOIN pool p
CROSS JOIN protocol f
GROUP BY s.hour, p.fee_tier, p.tick_spacing, f.fee_protocol
ORDER BY s.hour
