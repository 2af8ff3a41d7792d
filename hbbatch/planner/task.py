"""`python -m hbbatch task=plan` and `task=plan_sim`: the planner's two commands.

`run(cfg)` plans one cycle for the current signals (`current_plan`, which the Dune source plans with
too), prints it and writes `plan.json` into the run's output folder; `run_timeline(cfg)` simulates
`planner.timeline.days` of cycles for each mode in `planner.timeline.modes`, prints them side by side
and writes `plan_sim.json`. Both take the composed config (an OmegaConf node or a mapping);
`output_dir` replaces Hydra's run folder (tests).
Bad settings raise a ValueError subclass with one line naming the field and the fix.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Mapping, TextIO

from omegaconf import DictConfig, OmegaConf

from hbbatch.config.planner import PlannerConf
from hbbatch.config.sim import AgentConf, FloorsConf, MarketConf
from hbbatch.planner.cache import ResultCache
from hbbatch.planner.catalog import QUERIES_DIR, QuerySpec, load_catalog
from hbbatch.planner.decisions import DecisionModel
from hbbatch.planner.live import Sourced, gas_median_from_calibration, gather, signals_from_cache, signals_from_campaign
from hbbatch.planner.plans import Plan
from hbbatch.planner.schedule import plan
from hbbatch.planner.settings import PlannerConfigError, settings_from
from hbbatch.planner.signals import MODES, LiveSignals
from hbbatch.planner.state import CacheState
from hbbatch.planner.table import plan_tables, timeline_table
from hbbatch.planner.timeline import series_from_episodes, simulate_timeline, synthetic_series
from hbbatch.io import write_json

PLAN_FILE, TIMELINE_FILE = "plan.json", "plan_sim.json"
DEFAULT_CACHE_DIR = "outputs/dune_cache"        # the Dune source's default (calibration.dune.cache_dir)


def _node(cfg: Any, path: str) -> Any:
    node = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    return OmegaConf.select(node, path, default=None)


def _typed(schema: type, node: Any) -> Any:
    """A dataclass from its schema and an optional config node (unknown keys fail, naming them)."""
    base = OmegaConf.structured(schema)
    return OmegaConf.to_object(base if node is None else OmegaConf.merge(base, node))


def decision_model(cfg: Any) -> DecisionModel:
    units = _node(cfg, "calibration.recenter_gas_units")
    extra = {"recenter_gas_units": float(units)} if units else {}
    return DecisionModel(agent=_typed(AgentConf, _node(cfg, "agent")), market=_typed(MarketConf, _node(cfg, "market")),
                         floors=_typed(FloorsConf, _node(cfg, "floors")), **extra)


def _output_dir(output_dir: Path | str | None) -> Path:
    if output_dir is not None:
        return Path(output_dir)
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        raise PlannerConfigError("no output folder: run through `python -m hbbatch task=plan`, or pass output_dir")
    return Path(HydraConfig.get().runtime.output_dir)


def _planner(cfg: Any) -> DictConfig:
    node = _node(cfg, "planner")
    base = OmegaConf.structured(PlannerConf)
    return base if node is None else OmegaConf.merge(base, node)


def _console(out: TextIO | None):
    from rich.console import Console

    out = out or sys.stdout
    return Console(file=out, width=None if out.isatty() else 140, soft_wrap=False)


def result_cache(cfg: Any) -> ResultCache:
    """The one store of query results: `planner.cache_dir`, else the Dune source's `calibration.dune.cache_dir`."""
    return ResultCache(_node(cfg, "planner.cache_dir") or _node(cfg, "calibration.dune.cache_dir") or DEFAULT_CACHE_DIR)


def current_plan(cfg: Any, catalog: Mapping[str, QuerySpec] | None = None, cache: ResultCache | None = None,
                 state: CacheState | None = None) -> tuple[Plan, Sourced]:
    """This cycle's plan for the current signals (command line, then the query cache, then the latest
    campaign), and where each signal came from. `catalog` defaults to `planner.queries_dir`, `cache` to
    `result_cache(cfg)`, `state` (what the planner knows of past runs) to the cache's."""
    planner = _planner(cfg)
    catalog = catalog if catalog is not None else load_catalog(planner.queries_dir or QUERIES_DIR)
    settings = settings_from(planner, catalog)
    model = decision_model(cfg)
    cache = cache if cache is not None else result_cache(cfg)
    outputs = _node(cfg, "paths.output_dir") or "outputs"
    cli = LiveSignals.from_mapping(OmegaConf.to_container(planner.signals), where="planner.signals")
    hours = float(_node(cfg, "n_steps") or 10080) * model.market.step_minutes / 60.0
    live = gather(cli, signals_from_cache(cache, model),
                  signals_from_campaign(outputs, hours, model.market.volume_ref_vol_annual))
    if settings.gas_usd_median is None and live.sources.get("gas_usd", "").startswith("query cache"):
        found = gas_median_from_calibration(outputs)     # real gas is judged against the calibrated median
        if found:
            settings = dataclasses.replace(settings, gas_usd_median=found[0])
    now_s = float(planner.now_s) if planner.now_s is not None else time.time()
    the_plan = plan(catalog, cache.state() if state is None else state, live.signals, settings, now_s, model)
    return dataclasses.replace(the_plan, signal_sources=dict(live.sources)), live


def run(cfg: Any, output_dir: Path | str | None = None, out: TextIO | None = None) -> int:
    """Plan this cycle: print the plan and write plan.json; 0 on success."""
    the_plan, live = current_plan(cfg)
    path = the_plan.write_json(_output_dir(output_dir) / PLAN_FILE)
    console = _console(out)
    for table in plan_tables(the_plan, live):
        console.print(table)
    console.print(f"plan: {path}")
    return 0


def run_timeline(cfg: Any, output_dir: Path | str | None = None, out: TextIO | None = None) -> int:
    """Simulate the planner over `planner.timeline.days` for each mode; print and write plan_sim.json."""
    planner = _planner(cfg)
    timeline = planner.timeline
    for mode in timeline.modes:
        if mode not in MODES:
            raise PlannerConfigError(f"planner.timeline.modes: unknown mode {mode!r}; use any of {', '.join(MODES)}")
    if timeline.days < 1:
        raise PlannerConfigError(f"planner.timeline.days is {timeline.days}; use a whole number of days >= 1")
    catalog = load_catalog(planner.queries_dir or QUERIES_DIR)
    by_mode = {mode: settings_from(OmegaConf.merge(planner, {"mode": mode}), catalog) for mode in timeline.modes}
    model = decision_model(cfg)
    n_cycles = math.ceil(timeline.days * 86400 / planner.cycle_s)
    if timeline.episodes_path:
        import pandas as pd

        series = series_from_episodes(pd.read_parquet(timeline.episodes_path), timeline.hours_per_episode,
                                      planner.cycle_s)
        source = f"episodes {timeline.episodes_path}"
        if series.n_cycles > n_cycles:
            series = dataclasses.replace(series, **{f: getattr(series, f)[:n_cycles] for f in
                                                    ("gas_usd", "actions_per_hour", "realized_vol", "drawdown",
                                                     "toxicity")})
    else:
        series = synthetic_series(n_cycles, timeline.seed, model.market, planner.cycle_s)
        source = f"synthetic (seed {timeline.seed})"
    reports = simulate_timeline(catalog, series, by_mode, model, seed=timeline.seed,
                                vol_baseline_hours=planner.risk.vol_baseline_hours)
    days = math.ceil(series.n_cycles * planner.cycle_s / 86400)
    path = write_json(_output_dir(output_dir) / TIMELINE_FILE, {
        "days": days, "cycle_s": planner.cycle_s, "series": source,
        "reports": {name: r.to_dict() for name, r in reports.items()}})
    console = _console(out)
    console.print(timeline_table(reports, days))
    console.print(f"signals: {source}; simulation: {path}")
    return 0
