-- Daily average effective gas price on Ethereum and the daily ETH price, last {{lookback_days}} days.
-- The calibration turns each day into the USD cost of one LP action:
--   gas_usd = recenter_gas_units x gas_price_gwei x 1e-9 x eth_price_usd
-- and fits its median and spread over the window (hbbatch/calibration/gas.py).
WITH gas AS (
    SELECT block_date AS day,
           avg(CAST(gas_price AS double)) / 1e9 AS gas_price_gwei
    FROM ethereum.transactions
    WHERE block_date >= current_date - INTERVAL '{{lookback_days}}' DAY
      AND block_date < current_date
    GROUP BY 1
),
eth AS (
    SELECT CAST(date_trunc('day', timestamp) AS date) AS day,
           avg(price) AS eth_price_usd
    FROM prices.hour
    WHERE blockchain = 'ethereum'
      AND contract_address = 0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2  -- WETH
      AND timestamp >= current_date - INTERVAL '{{lookback_days}}' DAY
      AND timestamp < current_date
    GROUP BY 1
)
SELECT CAST(gas.day AS timestamp) AS day,
       gas.gas_price_gwei,
       eth.eth_price_usd
FROM gas
JOIN eth ON eth.day = gas.day
ORDER BY 1
