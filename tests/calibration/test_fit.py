"""Fitting the shipped real data: sanity ranges (../shared/reference/lp_theory.md) and an independent
pandas computation of every constant."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from hbbatch.calibration.gas import RECENTER_GAS_UNITS
from hbbatch.calibration.regimes import REGIMES


def _rows(payloads, name):
    frame = pd.DataFrame(payloads[name]["result"]["rows"])
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]) and frame[column].astype(str).str.endswith(" UTC").all():
            frame[column] = pd.to_datetime(frame[column].str.replace(" UTC", ""), utc=True)
    return frame


def test_recenter_gas__is_the_sum_of_uniswap_gas_snapshots(shared_dir):
    # v3-periphery: multicall exit 228,718 + exactInputSingle 107,180 + mint (new ticks) 451,862
    assert RECENTER_GAS_UNITS == 228_718 + 107_180 + 451_862 == 787_760
    snapshots = shared_dir / "reference" / "uniswap_gas_snapshots"
    entries = {}
    for path in snapshots.glob("*.snap"):
        entries.update(re.findall(r"exports\[`(.*?)`\] = `(\d+)`", path.read_text()))
    assert sum(int(entries[name]) for name in (
        "NonfungiblePositionManager multicall exit gas 1",
        "SwapRouter gas tests #exactInputSingle 0 -> 1 1",
        "NonfungiblePositionManager #mint gas mint for same pool, different ticks 1")) == RECENTER_GAS_UNITS


def test_gas__expected_cost_of_a_recenter_equals_pandas_and_is_in_range(snapshot_report, snapshot_payloads):
    gas = _rows(snapshot_payloads, "gas_regime")
    daily = 787_760 * gas["gas_price_gwei"] * 1e-9 * gas["eth_price_usd"]
    # GAS is an action's expected cost on a day of the window: the mean ($1.83), above the median ($1.62)
    expected = daily.mean()
    assert snapshot_report["fits"]["gas"]["gas_usd_median"] == pytest.approx(daily.median(), rel=1e-7)
    assert daily.median() < expected
    agent = snapshot_report["constants"]["agent"]
    assert agent["gas_usd"] == pytest.approx(expected, rel=1e-7)   # stored to 8 significant digits
    assert agent["fee_gate_usd"] == pytest.approx(2 * expected, rel=1e-7)   # stored to 8 significant digits
    # lp_theory: median 300 k-gas transaction $1.9 in 2025, $0.44 in 2026 (to June): per recenter $4.99 / $1.16
    assert 1.16 / 2 < agent["gas_usd"] < 4.99
    fit = snapshot_report["fits"]["gas"]
    assert fit["window"] == {"first": "2026-05-04T00:00:00+00:00", "last": "2026-06-02T00:00:00+00:00"}
    assert fit["gas_usd_p10"] < fit["gas_usd_median"] < fit["gas_usd_p90"]


def test_volatility__matches_published_yearly_figures(snapshot_payloads, snapshot_report):
    daily = _rows(snapshot_payloads, "regime_frequencies")
    yearly = daily.groupby(daily["day"].dt.year)["log_return"].std() * math.sqrt(365)
    assert yearly[2024] == pytest.approx(0.639, abs=0.01)      # lp_theory: 63.9 %
    assert yearly[2025] == pytest.approx(0.748, abs=0.01)      # 74.8 %
    assert yearly[2023] == pytest.approx(0.465, abs=0.02)      # 46.5 % (our 2023 starts 2023-01-10)
    minute = snapshot_report["fits"]["realized_vol"]["realized_vol_annual"]
    returns = _rows(snapshot_payloads, "realized_vol_jumps")["log_return"]
    assert minute == pytest.approx(returns.std() * math.sqrt(525_600), rel=1e-7)
    assert minute == pytest.approx(0.52, abs=0.01)             # lp_theory: about 0.52 on 2024-01-05
    for regime in REGIMES:
        assert 0.1 < snapshot_report["constants"]["market"]["vol_annual"][regime] < 1.03   # below the rolling max


def test_pool__fee_rate_volume_liquidity_equal_pandas(snapshot_payloads, snapshot_report):
    hourly = _rows(snapshot_payloads, "pool_hourly_fees")
    market = snapshot_report["constants"]["market"]
    assert market["fee_rate"] == pytest.approx(hourly["fees_usd"].sum() / hourly["volume_usd"].sum(), rel=1e-7)
    assert market["fee_rate"] == pytest.approx(0.0005)          # the 0.05 % tier, fee switch off in 2024
    assert market["tick_spacing"] == 10
    assert market["volume_usd_per_day"] == pytest.approx(hourly["volume_usd"].sum(), rel=1e-7)   # one day
    assert market["volume_usd_per_day"] == pytest.approx(247e6, rel=0.01)                          # lp_theory
    assert hourly["fees_usd"].sum() == pytest.approx(123e3, rel=0.01)
    assert market["pool_liquidity"] == pytest.approx(hourly["active_liquidity"].median(), rel=1e-7)


def test_volume_activity__equals_numpy_least_squares(snapshot_payloads, snapshot_report):
    bars = _rows(snapshot_payloads, "dynamic_fee_analysis")
    slope, _ = np.polyfit(bars["abs_log_return"], bars["volume_usd"], 1)
    sigma = math.sqrt((bars["abs_log_return"] ** 2).mean())
    share = slope * sigma * math.sqrt(2 / math.pi) / bars["volume_usd"].mean()
    fit = snapshot_report["fits"]["volume_activity"]
    assert fit["volume_vol_share_unclipped"] == pytest.approx(share, rel=1e-7)
    # one day of minute bars cannot separate flow from |return|-driven volume (the share clips at 1): the
    # constant comes from four years of daily pool volume (fits.world.volume)
    assert fit["volume_vol_share"] == min(max(share, 0.0), 1.0)
    assert snapshot_report["constants"]["market"]["volume_vol_share"] == \
        snapshot_report["fits"]["world"]["volume"]["volume_vol_share"]
    assert fit["volume_ref_vol_annual"] == pytest.approx(sigma * math.sqrt(525_600), rel=1e-7)


def test_regime_mix__equals_an_independent_pandas_classification(snapshot_payloads, snapshot_report):
    daily = _rows(snapshot_payloads, "regime_frequencies")
    r = daily["log_return"]
    r = r.iloc[len(r) % 7:].reset_index(drop=True)
    window = r.index // 7
    median = r.groupby(window).transform("median")
    robust = 1.4826 * (r - median).abs().groupby(window).transform("median")
    jump_sq = (r**2).where((r - median).abs() > 4.0 * robust, 0.0)
    share = jump_sq.groupby(window).sum() / (r**2).groupby(window).sum()
    tstat = r.groupby(window).mean() / (r.groupby(window).std() / math.sqrt(7))
    labels = np.where(tstat >= 2.0, "trend_up", np.where(share >= 0.3, "jumpy", "mean_revert"))
    expected = pd.Series(labels).value_counts(normalize=True)
    mix = snapshot_report["constants"]["regime_mix"]
    assert mix == pytest.approx({k: expected.get(k, 0.0) for k in REGIMES}, abs=1e-8)
    assert sum(mix.values()) == pytest.approx(1.0)
    assert [w[1] for w in snapshot_report["fits"]["regimes"]["windows"]] == list(labels)


def test_report__records_inputs_of_every_constant(snapshot_report):
    derivation = snapshot_report["derivation"]
    for section, values in snapshot_report["constants"].items():
        paths = [section] if section == "regime_mix" else [f"{section}.{k}" for k in values]
        for path in paths:
            inputs = derivation[path]["inputs"]
            history = snapshot_report["fits"]["world"]["history_files"]
            assert inputs and all(name in snapshot_report["inputs"] or name.removeprefix("history:") in history
                                  for name in inputs), path
    assert {m["what"] for m in snapshot_report["missing"]} >= {"market.mean_reversion_per_day",
                                                               "liquidity depth of the calibrated pool"}
