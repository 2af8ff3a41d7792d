"""Replay the real mainnet minute bars with a fixed position: fees against an independent pandas sum."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hbbatch.shadow.bars import read_minute_bars, to_bars
from hbbatch.sim import make_params
from hbbatch.sim.replay import replay

DATA = Path(__file__).resolve().parents[1] / "data" / "mainnet_usdc_weth_2024-01-05"
BARS = DATA / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv"
FEE_RATE, CAPITAL_USD, WIDTH_TICKS = 0.0005, 100_000.0, 300


def test_replay__fees_on_real_bars_match_an_independent_pandas_computation():
    frame = read_minute_bars(BARS)
    bars, price_start = to_bars(frame)
    params = make_params(market={"price_start_usd": price_start, "tick_spacing": 1, "fee_rate": FEE_RATE},
                         agent={"capital_usd": CAPITAL_USD, "rules": {"enabled": []},
                                "width": {"mean_revert": WIDTH_TICKS}},
                         floors={"mean_revert": WIDTH_TICKS}, dtype="float64")
    metrics, path = replay(bars, params, gating="off")

    # Independent: raw CSV, pool ticks (USDC/WETH: USD per ETH = 1e12 / 1.0001^tick), hand liquidity formula.
    raw = pd.read_csv(BARS, dtype=str)
    open_tick = float(raw["openTick"].iloc[0])
    p0 = 1e12 / 1.0001 ** open_tick
    # the agent's band is centred on the opening price in USD/ETH ticks: the pool's ticks mirror it
    sa, sb, s = np.sqrt(p0 * 1.0001 ** (-WIDTH_TICKS / 2)), np.sqrt(p0 * 1.0001 ** (WIDTH_TICKS / 2)), np.sqrt(p0)
    liquidity = CAPITAL_USD / ((1 / s - 1 / sb) * p0 + (s - sa))
    close_tick = raw["closeTick"].astype(float)
    in_band = (close_tick - open_tick).abs() < WIDTH_TICKS / 2
    # design.md: fees are weighted by the part of the bar's move (previous close -> close) inside the band
    half = WIDTH_TICKS / 2
    prev_tick = close_tick.shift(1).fillna(open_tick)
    low, high = pd.concat([prev_tick, close_tick], axis=1).min(axis=1) - open_tick, \
        pd.concat([prev_tick, close_tick], axis=1).max(axis=1) - open_tick
    overlap = (high.clip(upper=half) - low.clip(lower=-half)).clip(lower=0)
    weight = (overlap / (high - low)).where(high > low, ((prev_tick - open_tick).abs() < half).astype(float))
    price = 1e12 / 1.0001**close_tick
    volume_usd = raw["inAmount0"].map(int) / 1e6 + raw["inAmount1"].map(int) / 1e18 * price
    pool_l = raw["currentLiquidity"].map(int) / 1e12
    expected = (FEE_RATE * volume_usd * liquidity / (liquidity + pool_l) * weight).sum()

    assert 0.3 < in_band.mean() < 0.95          # the band is left and re-entered: in-range weighting matters
    assert float(metrics["fees_usd"]) == pytest.approx(expected, rel=0.005)
    # and the plain in-range indicator on closes agrees within the 2 %
    indicator = (FEE_RATE * volume_usd * liquidity / (liquidity + pool_l) * in_band).sum()
    assert float(metrics["fees_usd"]) == pytest.approx(indicator, rel=0.02)
    # and the day's total pool fees match the data's published figure (about 123 k USDC on 247 M volume)
    assert FEE_RATE * volume_usd.sum() == pytest.approx(123_000, rel=0.02)
    assert float(metrics["capital_usd"]) == CAPITAL_USD
    assert np.all(np.asarray(path.action) == 0)


def test_replay__real_bars_do_not_depend_on_the_simulated_regime_mix():
    bars, price_start = to_bars(read_minute_bars(BARS))
    results = []
    for mix in ({"mean_revert": 1.0, "jumpy": 0.0, "trend_up": 0.0}, {"mean_revert": 0.0, "jumpy": 1.0, "trend_up": 0.0}):
        params = make_params(market={"price_start_usd": price_start, "tick_spacing": 1}, regime_mix=mix,
                             agent={"rules": {"enabled": []}}, dtype="float64")
        results.append(replay(bars, params, gating="off")[0])
    assert "regime" not in results[0]
    for key in ("lvr_usd", "fees_usd", "pnl_vs_hodl_usd"):
        assert float(results[0][key]) == float(results[1][key]), key
    # LVR integrates the realised variance of the bars: sigma^2 dt summed = realized_vol^2 x T dt
    assert float(results[0]["lvr_usd"]) > 0
