-- Daily ETH closes (00:00 UTC, WETH in prices.hour) and log returns over the last {{lookback_days}} days.
-- The calibration cuts the returns into calibration.window_days-day windows (7: an episode is a week), classifies
-- each with hbbatch.calibration.regimes.classify_window (the rule the agent's online classifier
-- approximates: trend_up if the drift t-statistic >= 2, else jumpy if jumps carry >= 30 % of the
-- variance, else mean_revert) and counts the frequencies. The rule stays in one place, not in SQL.
WITH closes AS (
    SELECT timestamp AS day,
           price AS close_price_usd
    FROM prices.hour
    WHERE blockchain = 'ethereum'
      AND contract_address = 0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2  -- WETH
      AND hour(timestamp) = 0
      AND timestamp >= date_trunc('day', now()) - INTERVAL '{{lookback_days}}' DAY - INTERVAL '1' DAY
),
returns AS (
    SELECT day,
           close_price_usd,
           ln(close_price_usd / lag(close_price_usd) OVER (ORDER BY day)) AS log_return
    FROM closes
)
SELECT day, close_price_usd, log_return
FROM returns
WHERE log_return IS NOT NULL
ORDER BY day
