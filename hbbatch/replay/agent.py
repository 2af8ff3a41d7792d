"""`task=replay replay.agent=true`: the simulator's agent over real minute bars, warmed up as the simulator's is.

    python -m hbbatch task=replay replay.agent=true replay.bars=<demeter minute csv> agent.warmup_minutes=240

The first `agent.warmup_minutes` of the bars are observed only: folded into the policy's memory by the
simulator's `env.warm_up` (`hbbatch.sim.replay`: the same `policy.remember` as every step, no band, no action,
no P&L), as a historical episode folds the real bars before its first. The band opens at the last warm-up
bar's close and the agent decides on every bar after it, as the simulator's historical episode that starts
there does (tests/replay/test_warmup.py). Bars no longer than the warm-up are refused (one line, exit 2);
`agent.warmup_minutes=0` starts cold on purpose. The policy sees the bars as shadow mode does
(`hbbatch.shadow.bars`: USDC/WETH-style pools, close prices, swapped-in volume, the bar's liquidity; gas the
market's median), so `task=shadow` over the same bars makes the same decisions.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hbbatch import __version__
from hbbatch.config.sim import warmup_steps
from hbbatch.replay.bars import ReplayError, read_minute_bars
from hbbatch.shadow import bars as policy_bars
from hbbatch.shadow.warmup import too_few_bars
from hbbatch.sim import make_params
from hbbatch.sim.observation import reference_price_usd
from hbbatch.sim.replay import replay
from hbbatch.sim.types import ACTION_KINDS, OWNERS, REGIMES

SETTINGS = ("market", "agent", "floors", "regime_mix", "gating")


def check_agent_inputs(config: dict[str, Any]):
    """The minute bars the agent replays (exact integers, every row checked), or a one-line ReplayError: a
    step that is not the bars' minute, another pool's decimals, bars that end before the warm-up does."""
    section, market = config["replay"], config["market"]
    if float(market["step_minutes"]) != 1.0:
        raise ReplayError(f"market.step_minutes={market['step_minutes']}: replay.agent=true steps once per minute "
                          "bar; use market.step_minutes=1")
    if (int(section.get("decimals0", 6)), int(section.get("decimals1", 18))) != (6, 18):
        raise ReplayError("replay.decimals0/decimals1: replay.agent=true reads USDC/WETH-style bars (6 and 18 "
                          "decimals, as shadow mode); replay another pool with replay.hold_band")
    gated = read_minute_bars(section["bars"])
    problem = too_few_bars(config, len(gated), "replay.bars", gated.path)
    if problem:
        raise ReplayError(problem)
    return gated


def replay_agent(config: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(per-decision table, summary) of the agent over `replay.bars`, nothing written."""
    market = config["market"]
    gated = check_agent_inputs(config)
    n_warmup = warmup_steps(config["agent"], market)
    frame = policy_bars.read_minute_bars(gated.path)
    bars, price_start = policy_bars.to_bars(frame, "float64", n_warmup)
    gating = str(config["gating"]["mode"])
    params = make_params(market={**market, "price_start_usd": price_start}, agent=config["agent"],
                         floors=config["floors"], regime_mix=config["regime_mix"], dtype="float64", gating=gating)
    episode, path = replay(bars, params, gating=gating, warmup_steps=n_warmup)
    reference = reference_price_usd(price_start, int(market["tick_spacing"]))
    lower, upper = np.asarray(path.tick_lower), np.asarray(path.tick_upper)
    table = pd.DataFrame({
        "timestamp": frame["timestamp"].iloc[n_warmup:].astype(str).to_numpy(),
        "price_usd": np.asarray(path.price_usd), "action": [ACTION_KINDS[int(a)] for a in np.asarray(path.action)],
        "owner": [OWNERS[int(o)] for o in np.asarray(path.owner)],
        "regime_estimate": [REGIMES[int(r)] for r in np.asarray(path.regime_estimate)],
        "tick_lower": lower, "tick_upper": upper,
        "band_lower_usd": reference * np.exp(lower * math.log(1.0001)),
        "band_upper_usd": reference * np.exp(upper * math.log(1.0001)),
        "equity_usd": np.asarray(path.equity_usd)})
    stamps = frame["timestamp"]
    summary = {
        "task": "replay", "mode": "agent",
        "bars": str(gated.path), "bars_sha256": hashlib.sha256(Path(gated.path).read_bytes()).hexdigest(),
        "n_bars": len(gated), "first_bar": stamps.iloc[0].isoformat(), "last_bar": stamps.iloc[-1].isoformat(),
        "warmup_steps": int(episode["warmup_steps"]), "warmup_minutes": float(config["agent"]["warmup_minutes"]),
        "warmup": ("the first warmup_steps bars only warm the policy's memory up (env.warm_up: no band, no "
                   "action, no P&L), as the bars before a historical episode do; 0: a cold start"),
        "first_decision": stamps.iloc[n_warmup].isoformat(), "n_decisions": len(table),
        "open_price_usd": price_start, "gating": gating,
        "metrics": {k: float(v) if np.ndim(v) == 0 else np.asarray(v).tolist() for k, v in episode.items()
                    if k != "warmup_steps"},
        "settings": {s: config[s] for s in SETTINGS},
        "hbbatch_version": __version__,
    }
    return table, summary
