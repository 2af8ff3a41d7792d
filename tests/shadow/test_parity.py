"""Parity: shadow mode over the 2024-01-05 bars makes exactly the decisions of the simulator's replay of the
same bars with the same settings (hbbatch.sim.replay: the policy and rails scanned over the bars in one
jitted call). `task=replay` holds a fixed band (no policy), so the policy-driven replay is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from hbbatch.shadow.bars import read_minute_bars, to_bars
from hbbatch.shadow.position import pool_band
from hbbatch.shadow.sources import EMBEDDED_BARS
from hbbatch.sim import make_params
from hbbatch.sim.replay import replay
from hbbatch.sim.types import ACTION_KINDS
from tests.shadow.conftest import decisions
from tests.shadow.helpers import config, run_in_process
from tests.shadow.test_resume import ACTIVE


def _replayed(cfg):
    warmup = round(cfg["agent"]["warmup_minutes"])      # one-minute bars
    bars, price_start = to_bars(read_minute_bars(EMBEDDED_BARS), "float64", warmup)
    params = make_params(market={**cfg["market"], "price_start_usd": price_start}, agent=cfg["agent"],
                         floors=cfg["floors"], regime_mix=cfg["regime_mix"], dtype="float64")
    metrics, path = replay(bars, params, gating=cfg["gating"]["mode"], warmup_steps=warmup)
    return metrics, path, params


# The hard cap is per episode in the simulator and per rolling hours in shadow: parity is of the policy and
# of the rails that mean the same in both, so the busy case lifts the per-episode cap out of reach.
UNCAPPED = {**ACTIVE, "agent.rails.max_actions": 1000, "agent.rails.max_actions_episodes": 1}


# warmed: the first 6 hours of the day warm the memory up (the embedded day holds no earlier bars), both
# runs decide over the other 18
WARMED = {**UNCAPPED, "agent.warmup_minutes": 360}


@pytest.mark.parametrize("settings", [UNCAPPED, WARMED, pytest.param({}, marks=pytest.mark.slow)],
                         ids=["active", "active_warmed", "default"])
def test_parity__shadow_over_the_day_makes_the_replays_decisions(memory_dir, settings):
    cfg = config(memory_dir / "state", settings, max_steps=None)
    finished = run_in_process(cfg)
    records = decisions(finished.dir)
    metrics, path, params = _replayed(cfg)
    assert int(metrics["warmup_steps"]) == finished.summary["warmup_observed"] == round(cfg["agent"]["warmup_minutes"])
    assert len(records) == len(path.action) == 1440 - int(metrics["warmup_steps"])
    actions = [ACTION_KINDS[int(a)] for a in np.asarray(path.action)]
    assert [r["action"] for r in records] == actions
    start = finished.run.stepper.start_usd_tick()
    bands = [pool_band(float(lo), float(hi), start, 10) for lo, hi in zip(np.asarray(path.tick_lower),
                                                                          np.asarray(path.tick_upper))]
    assert [(r["tick_lower"], r["tick_upper"]) for r in records] == bands
    capital = float(cfg["agent"]["capital_usd"])
    np.testing.assert_allclose([r["sim_net_pnl_usd"] for r in records], np.asarray(path.equity_usd) - capital,
                               rtol=0, atol=1e-6)
    assert records[-1]["actions"] == int(metrics["actions"]) and records[-1]["widens"] == int(metrics["widens"])
    if settings:
        assert records[-1]["actions"] >= 8
    # the paper position (exact integers on the pool's own grid) and the simulator's floats agree closely
    # (2024-01-05, capital $100k: $55 apart with 40-tick bands, single-sided re-entries and 12 actions,
    # $2.4 on the defaults; the gap is the paper position's exact integer amounts against the float model)
    assert abs(records[-1]["net_pnl_usd"] - records[-1]["sim_net_pnl_usd"]) < 1e-3 * capital


@pytest.mark.parametrize("settings", [{}, {"agent.warmup_minutes": 5}], ids=["cold", "warmed"])
def test_parity__the_opening_band_pays_its_gas_in_the_paper_position_as_in_the_simulator(memory_dir, settings):
    cfg = config(memory_dir / "state", settings, max_steps=int(settings.get("agent.warmup_minutes", 0)) + 3)
    first = decisions(run_in_process(cfg).dir)[0]
    assert first["actions"] == 1 and first["gas_usd"] == 0.0   # the opening, before the first step's decision
    assert first["gas_usd_total"] == pytest.approx(cfg["market"]["gas_usd_median"], rel=1e-6)
    # without the opening's gas the paper position ran a whole action's gas ($70.11) above the simulator
    assert first["net_pnl_usd"] == pytest.approx(first["sim_net_pnl_usd"], abs=1.0)   # (the rest: exact integers vs floats)


@pytest.mark.parametrize("settings", [{}, {"agent.warmup_minutes": 5}], ids=["cold", "warmed"])
def test_parity__an_observed_gas_price_prices_the_opening_band_too(memory_dir, settings):
    # 2024-01-05 averaged 22.92 gwei: the opening's 790k gas at the open's price is about $41, not the
    # market's median ($70.11), in the paper position and in the simulator's state alike
    warmup = int(settings.get("agent.warmup_minutes", 0))
    cfg = config(memory_dir / "state", settings, max_steps=warmup + 3, gas_gwei=22.92)
    first = decisions(run_in_process(cfg).dir)[0]
    _, price_open_usd = to_bars(read_minute_bars(EMBEDDED_BARS), "float64", warmup)
    opening_gas_usd = cfg["shadow"]["gas_units"] * 22.92e-9 * price_open_usd
    assert first["gas_usd"] == 0.0 and first["gas_usd_total"] == pytest.approx(opening_gas_usd, rel=1e-9)
    assert first["net_pnl_usd"] == pytest.approx(first["sim_net_pnl_usd"], abs=1.0)


def test_parity__the_step_compiles_once_across_runs_and_settings(memory_dir):
    from hbbatch.shadow.stepper import compiled_step

    step = compiled_step("off", "online")
    run_in_process(config(memory_dir / "a", ACTIVE, max_steps=20))
    compiled = step._cache_size()
    run_in_process(config(memory_dir / "b", {**ACTIVE, "agent.rules.cooldown_minutes": 30,
                                             "agent.rails.max_drawdown": 0.1}, max_steps=20))
    assert step._cache_size() == compiled == 1        # new numbers, overrides and rails: no new compile
