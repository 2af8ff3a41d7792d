"""The planner's signal values of each snapshot result, against independent pandas computations."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hbbatch.calibration.fit import FitSettings
from hbbatch.calibration.results import QueryResult
from hbbatch.calibration.signals import signal_values
from hbbatch.planner.decisions import DecisionModel, drift_tstat

MINUTES_PER_YEAR = 365 * 1440


def _frame(payloads, name):
    frame = pd.DataFrame(payloads[name]["result"]["rows"])
    for column in ("day", "hour", "minute"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column].str.replace(" UTC", ""), utc=True)
    return frame


@pytest.fixture
def values(snapshot_payloads, catalog):
    def of(name):
        result = QueryResult.from_payload(name, snapshot_payloads[name], source="snapshot", origin="test",
                                          parameters=snapshot_payloads[name]["hbbatch"]["parameters"])
        return signal_values(result, catalog[name], FitSettings())
    return of


def test_gas_regime__medians_of_gas_and_eth_price(values, snapshot_payloads):
    frame = _frame(snapshot_payloads, "gas_regime")
    assert values("gas_regime") == pytest.approx({"gas_price": frame["gas_price_gwei"].median(),
                                                  "eth_price": frame["eth_price_usd"].median()})


def test_pool_hourly_fees__fee_rate_volume_per_day_liquidity_and_close(values, snapshot_payloads):
    frame = _frame(snapshot_payloads, "pool_hourly_fees")
    days = (frame["hour"].max() - frame["hour"].min() + pd.Timedelta(hours=1)) / pd.Timedelta(days=1)
    assert values("pool_hourly_fees") == pytest.approx({
        "fee_rate": frame["fees_usd"].sum() / frame["volume_usd"].sum(),
        "volume": frame["volume_usd"].sum() / days,
        "active_liquidity": frame["active_liquidity"].median(),
        "eth_price": frame.sort_values("hour")["close_price_usd"].iloc[-1]})


def test_realized_vol_jumps__annualised_std_of_minute_returns(values, snapshot_payloads):
    returns = _frame(snapshot_payloads, "realized_vol_jumps")["log_return"]
    assert values("realized_vol_jumps") == pytest.approx({"realized_vol": returns.std() * math.sqrt(MINUTES_PER_YEAR)})


def test_dynamic_fee_analysis__fee_rate_volume_per_day_and_rms_move(values, snapshot_payloads):
    frame = _frame(snapshot_payloads, "dynamic_fee_analysis")
    assert values("dynamic_fee_analysis") == pytest.approx({
        "fee_rate": frame["fees_usd"].sum() / frame["volume_usd"].sum(),
        "volume": frame["volume_usd"].mean() * 1440,
        "realized_vol": math.sqrt((frame["abs_log_return"] ** 2).mean() * MINUTES_PER_YEAR)})


def test_regime_frequencies__newest_week_gives_the_agents_trend_statistic(values, snapshot_payloads):
    week = _frame(snapshot_payloads, "regime_frequencies").sort_values("day")["log_return"].tail(7)
    got = values("regime_frequencies")
    assert got == pytest.approx({"drift": week.mean() * 365, "realized_vol": week.std() * math.sqrt(365)})
    # the planner's regime_trend decision reads them back as the week's t-statistic
    assert drift_tstat(got, DecisionModel()) == pytest.approx(week.mean() / (week.std() / math.sqrt(7)))


def test_mev_toxicity__sandwiched_share_and_volume_per_day(values, snapshot_payloads):
    frame = _frame(snapshot_payloads, "mev_toxicity")
    days = (frame["hour"].max() - frame["hour"].min() + pd.Timedelta(hours=1)) / pd.Timedelta(days=1)
    assert values("mev_toxicity") == pytest.approx({
        "mev_share": frame["sandwiched_volume_usd"].sum() / frame["volume_usd"].sum(),
        "volume": frame["volume_usd"].sum() / days})


def test_liquidity_depth__raw_liquidity_gives_no_value(values):
    assert values("liquidity_depth") == {}
