"""MarketConf's defaults are the regimes world of the committed calibration report: a refit that moves
them must move the defaults too (the data win over hand-set numbers)."""

from dataclasses import asdict

import pytest

from hbbatch.calibration.report import load_report
from hbbatch.config.sim import MarketConf

WORLD_KEYS = ("vol_annual", "drift_annual", "drift_dispersion_annual", "mean_reversion_per_day", "jumps_per_day",
              "jump_size_std", "garch_alpha", "garch_beta", "garch_start_log_sd", "volume_vol_share",
              "gas_usd_median", "gas_dispersion", "gas_vol_elasticity", "gas_ref_vol_annual")


def test_market_defaults__are_the_committed_reports_regimes_world():
    report = load_report()
    defaults = asdict(MarketConf())
    for key in WORLD_KEYS:
        assert report.data["derivation"][f"market.{key}"]["fit"] == "world", key
        fitted, default = report.market[key], defaults[key]
        if isinstance(fitted, dict):
            assert default == pytest.approx(fitted, rel=1e-3, abs=1e-9), key
        else:
            assert default == pytest.approx(fitted, rel=1e-3), key


def test_market_defaults__no_mean_reversion_and_trends_both_ways():
    market = MarketConf()
    assert asdict(market.mean_reversion_per_day) == {"mean_revert": 0.0, "jumpy": 0.0, "trend_up": 0.0}
    assert market.drift_dispersion_annual.trend_up > market.drift_annual.trend_up   # P(down-trend) > 0.3
    assert market.garch_alpha + market.garch_beta < 1
