"""The gas story in one place, held to the embedded Etherscan gas history: the worlds charge the deployment
level (the latest 30 days), the calibrated agent believes that level's expected cost, and the high-gas
stress charges history's own gas on its dates."""

import numpy as np
import pandas as pd
import pytest

from hbbatch.calibration.report import load_report
from hbbatch.config.world import DEPLOYMENT_GAS_USD_MEDIAN, RECENTER_GAS_UNITS
from hbbatch.worlds import history


def _daily_recenter_usd() -> pd.Series:
    gas = history.gas_daily().set_index("date")
    return RECENTER_GAS_UNITS * gas["gas_price_gwei"] * 1e-9 * gas["eth_price_usd"]


def test_world_gas__the_deployment_level_is_the_latest_30_days_of_real_gas():
    daily = _daily_recenter_usd()
    assert daily.index[-1] == pd.Timestamp("2026-06-02", tz="UTC")      # the most recent data there is
    assert DEPLOYMENT_GAS_USD_MEDIAN == pytest.approx(daily.iloc[-30:].median(), rel=5e-3)
    # the calibration's gas fit is of the same days: its median is the level, its mean the agent's GAS
    fit = load_report().data["fits"]["gas"]
    assert fit["window"]["last"].startswith("2026-06-02") and fit["days"] == 30
    assert fit["gas_usd_median"] == pytest.approx(DEPLOYMENT_GAS_USD_MEDIAN, rel=5e-3)
    assert load_report().agent["gas_usd"] == pytest.approx(daily.iloc[-30:].mean(), rel=1e-6)


def test_world_gas__every_historical_world_but_the_gas_stress_charges_the_deployment_level(compose_cfg):
    for world in ("historical", "replay", "stress_down_trend", "stress_fee_switch"):
        assert compose_cfg([f"world={world}"]).world.gas_median_usd == DEPLOYMENT_GAS_USD_MEDIAN, world
    assert compose_cfg(["world=stress_high_gas"]).world.gas_median_usd is None   # history's own gas


def test_world_gas__history_on_its_dates_is_the_high_gas_stress():
    daily = _daily_recenter_usd()
    window = daily.loc["2020-01-01":"2025-04-30"]        # the historical world's default dates
    # median $38.2 a recenter, 24x the deployment level; 2021 alone $213
    assert np.median(window) == pytest.approx(38.2, abs=0.5)
    assert np.median(window) / DEPLOYMENT_GAS_USD_MEDIAN > 20
    assert daily.loc["2021-01-01":"2021-12-31"].median() == pytest.approx(213, abs=2)


def test_world_gas__campaign_c_believes_the_calibrations_expected_gas(compose_cfg):
    cfg = compose_cfg(["campaign=C"])
    report = load_report()
    assert cfg.calibration.source == "default"
    assert report.agent["gas_usd"] == pytest.approx(1.827, abs=1e-3)
    assert report.agent["fee_gate_usd"] == pytest.approx(2 * report.agent["gas_usd"], rel=1e-9)
