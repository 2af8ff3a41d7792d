"""Live signals: parsing, gas regime, mode choice, risk signals."""

from __future__ import annotations

import pytest

from hbbatch.planner.signals import (LiveSignals, SignalError, choose_mode, effective_gas_regime, gas_regime_of,
                                     high_risks)


def test_from_mapping__numbers_and_regime():
    s = LiveSignals.from_mapping({"gas_regime": "high", "actions_per_hour": "0.7", "drawdown": None})
    assert (s.gas_regime, s.actions_per_hour, s.drawdown) == ("high", 0.7, None)


@pytest.mark.parametrize("values, fix", [
    ({"gas_regime": "extreme"}, "signals.gas_regime is 'extreme'; use one of low, normal, high"),
    ({"drawdown": -0.1}, "signals.drawdown is -0.1; use a finite number >= 0"),
    ({"vol_ratio": "spiky"}, "signals.vol_ratio is 'spiky'; use a number"),
    ({"gas": 3}, "signals.gas: unknown signal; use one of actions_per_hour, drawdown, gas_regime"),
])
def test_from_mapping__bad_values_name_the_signal(values, fix):
    with pytest.raises(SignalError) as info:
        LiveSignals.from_mapping(values)
    assert str(info.value).startswith(fix)


def test_gas_regime_of__relative_to_the_median():
    assert gas_regime_of(9.4, 4.7, 2.0, 0.5) == "high"
    assert gas_regime_of(9.3, 4.7, 2.0, 0.5) == "normal"
    assert gas_regime_of(2.35, 4.7, 2.0, 0.5) == "low"
    assert effective_gas_regime(LiveSignals(gas_regime="low", gas_usd=100.0), 4.7, 2.0, 0.5) == "low"
    assert effective_gas_regime(LiveSignals(), 4.7, 2.0, 0.5) is None


def test_choose_mode():
    assert choose_mode("auto", LiveSignals(actions_per_hour=0.6), 0.5, None)[0] == "high_churn"
    assert choose_mode("auto", LiveSignals(actions_per_hour=0.5), 0.5, None)[0] == "normal"
    assert choose_mode("auto", LiveSignals(), 0.5, "high") == ("high_churn", "auto: gas regime high")
    assert choose_mode("normal", LiveSignals(actions_per_hour=9.0), 0.5, "high") == ("normal", "forced: normal")
    assert choose_mode("high_churn", LiveSignals(), 0.5, None) == ("high_churn", "forced: high_churn")


def test_high_risks__at_or_above_thresholds_in_fixed_order():
    s = LiveSignals(vol_ratio=2.0, drawdown=0.1, toxicity=0.049)
    assert high_risks(s, 2.0, 0.1, 0.05) == ("vol_spike", "drawdown")
    assert high_risks(LiveSignals(), 2.0, 0.1, 0.05) == ()


def test_merged_over_fills_gaps_only():
    cli = LiveSignals(gas_regime="high")
    artifacts = LiveSignals(gas_regime="normal", drawdown=0.2)
    assert cli.merged_over(artifacts) == LiveSignals(gas_regime="high", drawdown=0.2)
