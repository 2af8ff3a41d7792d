"""Calibration: query results → data-quality gates → fit → `calibration_report.json` (content-hashed).

    python -m hbbatch task=calibrate                           # the embedded snapshot (offline, no key)
    python -m hbbatch task=calibrate calibration.source=dune   # live: DUNE_API_KEY, DUNE_API_BASE_URL
    python -m hbbatch task=calibrate calibration=files calibration.files_dir=/exports

Modules: `sources/` (snapshot, dune, files: one `fetch` interface returning a `results.QueryResult`
in Dune's results shape; `dune_plan` runs the query planner's plan over its result cache), `gates`
(expectations/calibration/*.json, one suite per query and one for the report), `gas`, `regimes`,
`pool`, `world` (the fits), `null` (the regime null test), `fit` (constants and their inputs), `signals` (the planner's signal values of a
result), `report` (schema, hash, `load_report`), `task` (the command), `build_snapshots` (derives the
snapshots from ../shared/data). Choices, written down:

- GAS is the median over the lookback of the daily cost of one recenter (787,760 gas, from
  Uniswap's gas snapshots: exit + swap + mint) at the day's average gas price and ETH price;
  FEE_GATE = calibration.fee_gate_multiple x GAS (2 by default).
- Regimes: 7-day windows of daily closes (an episode is a week: 10,080 one-minute steps), each
  classified by `regimes.classify_window`; the mix is the share of windows. Per regime: diffusive
  volatility, the drift as the simulator reads it (E[P] grows as e^(drift t)), jump rate and size (a
  truncated-normal moment fit of the jumps beyond 4 robust sigmas), and an OU pull on the log price
  only when it survives the selection bias of the rule.
- The regime mix is tested against a null (`null`): the rule applied to 2,000 bootstrap paths of
  the same returns drawn independently (no regimes); per regime a p-value, and `identified` only
  when one is below 0.05 / 3. An unidentified mix is kept as a figure; calibrated campaigns then run
  in the historical world (hbbatch/campaign/calibration.py).
- The `regimes` world (`world`): GARCH(1,1) on hourly ETH returns by maximum likelihood (arch),
  jumps from a mixture on its standardised residuals, mean reversion only where a variance ratio is
  significantly below 1, per-episode drift (trends both ways), volume's |return| share from daily
  pool volume, gas from the pool day's window and its elasticity to volatility; from the embedded
  history (hbbatch.worlds.history). Its numbers replace the daily-window per-regime fit in
  `constants.market` and are MarketConf's defaults.
- Pool: fee rate (fee-weighted, the LP's share after any protocol fee), volume per day, the median
  in-range liquidity and the last close from `pool_hourly_fees`; how volume follows |return| from
  `dynamic_fee_analysis`. Liquidity depth and MEV share are reported as figures, not constants.
- The report's hash covers constants, fits, inputs (data hashes, parameters, SQL hashes) and
  settings, not the fetch's provenance: same data, same hash, whichever source or execution.
- `/v1/sql/execute` (queries without `dune_query_id`) needs a Dune Plus plan; on other plans save
  each query on Dune and set its `dune_query_id` in queries/<name>.yaml.
"""
