"""Where `task=plan` finds the current live signals, in order of precedence:

1. the command line (`planner.signals.gas_regime=high`, ...);
2. the query cache: gas per action from the newest stored gas and ETH prices (the last row of the
   newest result providing both), toxicity from the newest row of the newest `mev_share` result;
3. the latest campaign (the newest `episodes.parquet` under the outputs folder): actions per hour,
   gas paid per action, realised vol over the market's reference vol, median max drawdown.

The gas regime compares gas per action with a median: `planner.switch.gas_usd_median`, else the
latest calibration report's `market.gas_usd_median`, else the config's `market.gas_usd_median`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from hbbatch import io as hbio
from hbbatch.planner.cache import ResultCache
from hbbatch.planner.decisions import SIGNAL_COLUMNS, DecisionModel
from hbbatch.planner.signals import LiveSignals, SignalError
from hbbatch.runs import is_incomplete

EPISODES, MANIFEST, REPORT = "episodes.parquet", "manifest.json", "calibration_report.json"


@dataclass(frozen=True)
class Sourced:
    signals: LiveSignals
    sources: Mapping[str, str]          # signal -> where its value came from


def latest(root: Path | str, name: str) -> Path | None:
    """The most recently written file called `name` under `root`, outside runs that did not finish (a run
    cancelled or killed keeps its in-progress marker: hbbatch.runs)."""
    root = Path(root)
    found = [p for p in root.rglob(name) if p.is_file() and not is_incomplete(p, root)] if root.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _newest_row_value(cache: ResultCache, signal: str) -> tuple[float, str] | None:
    column = SIGNAL_COLUMNS[signal]
    state = cache.state()
    for query in sorted(state.results, key=lambda q: -state.results[q].fetched_at_s):
        stored = cache.get(query)
        values = [r.get(column) for r in stored.rows if isinstance(r, Mapping) and r.get(column) is not None]
        if values:
            return float(values[-1]), query
    return None


def signals_from_cache(cache: ResultCache, model: DecisionModel) -> Sourced:
    values, sources = {}, {}
    gas = _newest_row_value(cache, "gas_price")
    eth = _newest_row_value(cache, "eth_price")
    if gas and eth:
        values["gas_usd"] = model.recenter_gas_units * gas[0] * 1e-9 * eth[0]
        sources["gas_usd"] = f"query cache ({gas[1]})"
    toxic = _newest_row_value(cache, "mev_share")
    if toxic:
        values["toxicity"], sources["toxicity"] = toxic[0], f"query cache ({toxic[1]})"
    return Sourced(LiveSignals(**values), sources)


def signals_from_episodes(frame: Any, hours_per_episode: float, vol_reference: float) -> LiveSignals:
    actions = frame["actions"].to_numpy(float)
    gas = frame["gas_usd"].to_numpy(float)
    return LiveSignals(
        actions_per_hour=float(actions.mean() / hours_per_episode),
        gas_usd=float(gas.sum() / actions.sum()) if actions.sum() > 0 else None,
        vol_ratio=float(np.median(frame["realized_vol"].to_numpy(float)) / vol_reference),
        drawdown=float(np.median(frame["max_drawdown"].to_numpy(float))))


def signals_from_campaign(outputs_dir: Path | str, default_hours: float, vol_reference: float) -> Sourced:
    path = latest(outputs_dir, EPISODES)
    if path is None:
        return Sourced(LiveSignals(), {})
    import pandas as pd

    hours = default_hours
    manifest = path.parent / MANIFEST
    if manifest.exists():
        config = json.loads(manifest.read_text()).get("config", {})
        steps, minutes = config.get("n_steps"), config.get("market", {}).get("step_minutes")
        if steps and minutes:
            hours = float(steps) * float(minutes) / 60.0
    signals = signals_from_episodes(pd.read_parquet(path), hours, vol_reference)
    return Sourced(signals, {f.name: f"campaign ({path})" for f in fields(signals)
                             if getattr(signals, f.name) is not None})


COMMITTED_REPORT = Path(__file__).resolve().parents[1] / "data" / REPORT   # hbbatch/data: the default report


def gas_median_from_calibration(outputs_dir: Path | str) -> tuple[float, str] | None:
    """`market.gas_usd_median` of the newest calibration report (outputs first, then the committed one).

    Read as plain JSON: the calibration package plans with this one (it imports the planner), so the planner
    does not import it back. Only this one number is taken, and only if it is a finite number > 0; campaigns
    still read reports through the calibration's own loader and gates."""
    path = latest(outputs_dir, REPORT) or (COMMITTED_REPORT if COMMITTED_REPORT.exists() else None)
    if path is None:
        return None
    try:
        median = hbio.read_json(path)["constants"]["market"].get("gas_usd_median")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise SignalError(f"{path}: not a calibration report (no constants.market); regenerate it with "
                          f"`python -m hbbatch task=calibrate`") from None
    if median is None:
        return None
    if isinstance(median, bool) or not isinstance(median, (int, float)) or not math.isfinite(median) or median <= 0:
        raise SignalError(f"{path}: constants.market.gas_usd_median={median!r} is not a number > 0; regenerate the "
                          f"report with `python -m hbbatch task=calibrate`")
    return float(median), str(path)


def gather(cli: LiveSignals, *found: Sourced) -> Sourced:
    """The command line's signals, the gaps filled from each source in turn."""
    signals = cli
    sources = {f.name: "command line" for f in fields(cli) if getattr(cli, f.name) is not None}
    for source in found:
        for f in fields(source.signals):
            if getattr(signals, f.name) is None and getattr(source.signals, f.name) is not None:
                sources[f.name] = source.sources.get(f.name, "?")
        signals = signals.merged_over(source.signals)
    return Sourced(signals, sources)
