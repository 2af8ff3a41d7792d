"""task=replay on the real 2024-01-05 mainnet bars, against an independent pandas replay."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hbbatch.replay.band import PoolSpec, place_band
from hbbatch.replay.bars import ReplayError, read_minute_bars
from hbbatch.replay.task import replay_band
from tests.replay.conftest import POSITIONS, USER_POSITIONS

CAPITAL_USD, FEE_RATE = 100_000.0, 0.0005
ROOT = Path(__file__).resolve().parents[2]


def pandas_replay(path, lower, upper, capital_usd):
    """Independent: floats from the raw CSV, the whitepaper's formulas, the documented conventions."""
    raw = pd.read_csv(path, dtype=str)
    tick = lambda column: raw[column].astype(float).astype(int)  # noqa: E731
    open_tick = tick("openTick").iloc[0]
    # pool price (WETH per USDC, raw units) = 1.0001^tick; in human units USD per ETH = 1e12 / 1.0001^tick
    sqrt_p, sqrt_a, sqrt_b = (1.0001 ** (t / 2) for t in (open_tick, lower, upper))
    usdc_per_l = (1 / sqrt_p - 1 / sqrt_b) / 1e6         # token0 = USDC, raw units -> USDC
    weth_per_l = (sqrt_p - sqrt_a) / 1e18                # token1 = WETH
    price0 = 1e12 / 1.0001**open_tick
    liquidity = capital_usd / (usdc_per_l + weth_per_l * price0)
    low, high = tick("lowestTick"), tick("highestTick")
    inside = (np.minimum(high, upper - 1) - np.maximum(low, lower) + 1).clip(lower=0)
    fraction = inside / (high - low + 1)
    pool_l = raw["currentLiquidity"].map(int).astype(float)
    share = liquidity / (liquidity + pool_l)
    price = 1e12 / 1.0001 ** tick("closeTick")
    fees_usdc = FEE_RATE * raw["inAmount0"].map(int).astype(float) / 1e6 * share * fraction
    fees_weth = FEE_RATE * raw["inAmount1"].map(int).astype(float) / 1e18 * share * fraction
    return float((fees_usdc + fees_weth * price).sum()), float(fraction.mean())


@pytest.mark.parametrize("lower,upper", [(198950, 199150), (198450, 199650)])   # 200 and 1200 ticks, centred
def test_replay__fees_of_a_band_held_all_day_match_an_independent_pandas_replay(bars_path, lower, upper):
    table, summary, _ = replay_band(bars_path, [lower, upper], CAPITAL_USD)
    expected, in_range = pandas_replay(bars_path, lower, upper, CAPITAL_USD)
    assert summary["fees_usd"] == pytest.approx(expected, rel=1e-3)
    assert summary["time_in_range"] == pytest.approx(in_range, rel=1e-9)
    assert len(table) == 1440 and summary["n_bars"] == 1440
    if upper - lower == 200:
        assert 0.2 < in_range < 0.9                   # the 200-tick band is left and re-entered during the day
    else:
        assert in_range > 0.99


def test_place_band__exact_amounts_fund_the_liquidity_within_the_capital(bars_path):
    bars = read_minute_bars(bars_path)
    band = place_band(CAPITAL_USD, 198950, 199150, bars.open_tick[0], PoolSpec())
    deposit = band.amount0 / 1e6 + band.amount1 / 1e18 * band.open_price_usd
    assert 0 <= CAPITAL_USD - deposit < 0.01 and band.idle_usd == pytest.approx(CAPITAL_USD - deposit)
    # the whitepaper's float amounts for this liquidity, at the opening tick's price
    sqrt_p, sqrt_a, sqrt_b = (1.0001 ** (t / 2) for t in (bars.open_tick[0], 198950, 199150))
    assert band.amount0 == pytest.approx(band.liquidity * (1 / sqrt_p - 1 / sqrt_b), rel=1e-9)
    assert band.amount1 == pytest.approx(band.liquidity * (sqrt_p - sqrt_a), rel=1e-9)


def test_replay__real_positions_of_the_day_compared_with_what_they_collected(bars_path):
    _, summary, positions = replay_band(bars_path, [198950, 199150], CAPITAL_USD, PoolSpec(), POSITIONS,
                                        USER_POSITIONS)
    report = summary["positions"]
    # 38 positions opened and closed that day; 36 have their mint, burn and collect in the events file
    assert report["all"]["cycles"] + len(report["unmatched"]) == 38 and report["all"]["cycles"] == 36
    assert report["same_block"]["cycles"] == 29 and report["same_block"]["replayed_fees_usd"] == 0.0
    wide = positions[positions["width_ticks"] > 1000].iloc[0]     # held six hours, in range throughout
    assert wide["replayed_fees_usd"] == pytest.approx(wide["real_fees_usd"], rel=0.01)
    # the real fees are COLLECT - BURN: an independent read of the raw events for the wide position
    raw = pd.read_csv(POSITIONS, dtype=str)
    events = raw[(raw["tick_lower"].astype(float) == wide["tick_lower"]) & (raw["tick_upper"].astype(float) == wide["tick_upper"])]
    collect, burn = (events[events["tx_type"] == kind].iloc[0] for kind in ("COLLECT", "BURN"))
    assert wide["real_fees_token0"] == pytest.approx((int(collect["amount0"]) - int(burn["amount0"])) / 1e6)


@pytest.mark.parametrize("band,message", [([198955, 199150], "multiples of the pool's tick spacing 10"),
                                          ([199150, 198950], "lower must be below upper"),
                                          ([1.5, 2], "two integer pool ticks")])
def test_replay__bad_band_is_refused_by_name(bars_path, band, message):
    with pytest.raises(ReplayError, match=message):
        replay_band(bars_path, band, CAPITAL_USD)


def test_read_minute_bars__duplicated_minutes_are_refused_naming_the_rows(bars_path, tmp_path):
    lines = bars_path.read_text().splitlines()
    bad = tmp_path / "bad.minute.csv"
    bad.write_text("\n".join(lines[:5] + [lines[4]] + lines[5:10]) + "\n")
    with pytest.raises(ReplayError, match=r"bad.minute.csv: timestamps not strictly increasing .* line\(s\) 6"):
        read_minute_bars(bad)


def test_cli__replay_writes_parquet_and_summary_and_refuses_bad_input(bars_path, tmp_path):
    out = tmp_path / "ok"
    command = [sys.executable, "-m", "hbbatch", "task=replay", f"replay.bars={bars_path}",
               "replay.hold_band=[198450,199650]", "agent.capital_usd=100000", f"replay.output_dir={out}",
               f"hydra.run.dir={tmp_path / 'hydra'}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fees_usd"] > 0 and "close price" in summary["conventions"]
    assert len(pd.read_parquet(out / "replay.parquet")) == 1440
    bad_out = tmp_path / "bad"
    bad = [c.replace("[198450,199650]", "[198455,199650]").replace(str(out), str(bad_out)) for c in command]
    done = subprocess.run(bad, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "replay.hold_band=[198455,199650]" in done.stderr + done.stdout
    assert not bad_out.exists()
