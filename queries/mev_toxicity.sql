-- Hourly swap volume of one pool and the part of it that was sandwiched (victims in dex.sandwiched:
-- a front and a back run by the same sender in one block and pool), last {{lookback_days}} days.
-- mev_share = sandwiched volume / volume: the toxic share of flow an LP's fee estimate should discount.
WITH trades AS (
    SELECT date_trunc('hour', block_time) AS hour,
           count(*) AS trade_count,
           sum(amount_usd) AS volume_usd
    FROM dex.trades
    WHERE blockchain = 'ethereum' AND project = 'uniswap' AND version = '3'
      AND project_contract_address = {{pool}}
      AND block_time >= date_trunc('hour', now()) - INTERVAL '{{lookback_days}}' DAY
      AND block_time < date_trunc('hour', now())
    GROUP BY 1
),
victims AS (
    SELECT date_trunc('hour', block_time) AS hour,
           count(*) AS sandwiched_count,
           sum(amount_usd) AS sandwiched_volume_usd
    FROM dex.sandwiched
    WHERE blockchain = 'ethereum' AND project = 'uniswap' AND version = '3'
      AND project_contract_address = {{pool}}
      AND block_time >= date_trunc('hour', now()) - INTERVAL '{{lookback_days}}' DAY
      AND block_time < date_trunc('hour', now())
    GROUP BY 1
)
SELECT t.hour,
       t.trade_count,
       t.volume_usd,
       coalesce(v.sandwiched_count, 0) AS sandwiched_count,
       coalesce(v.sandwiched_volume_usd, 0.0) AS sandwiched_volume_usd,
       coalesce(v.sandwiched_volume_usd, 0.0) / t.volume_usd AS mev_share
FROM trades t
LEFT JOIN victims v ON v.hour = t.hour
WHERE t.volume_usd > 0
ORDER BY t.hour
