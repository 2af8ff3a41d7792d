"""A job's world config -> the simulator's historical-world params, and what the manifest records.

    world_params(world, market, agent, n_steps, n_episodes, dtype) -> Built

Which bars: the user's file (`world.history`) or the embedded history between `world.history_start`
and `world.history_end` at `world.bar_minutes` (auto: the finest resolution that fits the step and
covers that window; from 2020-01-01, the default, only the hourly bars do). Bars finer than the step are aggregated (high = max, low = min, volume summed); bars coarser
than the step are spread over steps_per_bar steps (see `hbbatch.sim.history`), their variance laid out by real
within-bar profiles (`world.within_bar=profile`, `hbbatch.worlds.profiles`) or held flat (`flat`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from hbbatch.config.sim import AgentConf, MarketConf, warmup_steps
from hbbatch.config.world import WITHIN_BAR, WORLD_KINDS, WorldConf
from hbbatch.worlds import files, history, inputs, levels, pool, profiles

log = logging.getLogger(__name__)
MINUTES_PER_YEAR = 525_600.0


class WorldError(ValueError):
    """A world setting that cannot run; the message names the key and the fix."""


@dataclass(frozen=True)
class Built:
    params: Any                  # hbbatch.sim.history.HistoryParams, or the parametric world's hbbatch.sim.price.LevelTable
    n_episodes: int              # replay may hold fewer windows than episodes asked for
    info: dict[str, Any]         # what the manifest records beside results


def _plain(section: Any) -> dict[str, Any]:
    if section is None:
        return {}
    return asdict(section) if is_dataclass(section) else dict(section)


def world_conf(section: Any) -> dict[str, Any]:
    base = asdict(WorldConf())
    values = _plain(section)
    unknown = set(values) - set(base)
    if unknown:
        raise WorldError(f"world: unknown key(s) {sorted(unknown)}; known keys are {', '.join(sorted(base))}")
    conf = {**base, **values}
    if conf["kind"] not in WORLD_KINDS:
        raise WorldError(f"world.kind={conf['kind']!r}: use one of {', '.join(WORLD_KINDS)}")
    if conf["within_bar"] not in WITHIN_BAR:
        raise WorldError(f"world.within_bar={conf['within_bar']!r}: use one of {', '.join(WITHIN_BAR)}")
    for key, low in (("block_hours", 0.0), ("gas_units", 0.0)):
        if not (isinstance(conf[key], (int, float)) and math.isfinite(conf[key]) and conf[key] > low):
            raise WorldError(f"world.{key}={conf[key]!r}: must be a finite number > {low:g}")
    if not (math.isfinite(conf["drift_annual"]) and abs(conf["drift_annual"]) <= 50):
        raise WorldError(f"world.drift_annual={conf['drift_annual']!r}: use a log drift per year within [-50, 50]")
    if not 0.0 <= conf["lp_fee_share"] <= 1.0:
        raise WorldError(f"world.lp_fee_share={conf['lp_fee_share']!r}: use a share in [0, 1] (fee switch: 0.75)")
    level = conf["gas_level_days"]
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        raise WorldError(f"world.gas_level_days={level!r}: use a whole number of days >= 1 (default 90)")
    gas = conf["gas_median_usd"]
    if gas is not None and not (math.isfinite(gas) and gas >= 0):
        raise WorldError(f"world.gas_median_usd={gas!r}: use a cost in USD >= 0, or null for the history's gas")
    for key in ("history_start", "history_end"):
        if conf[key] is not None:
            try:
                pd.Timestamp(conf[key])
            except ValueError as exc:
                raise WorldError(f"world.{key}={conf[key]!r}: use a date such as 2020-01-01, or null") from exc
    if conf["pool_fee_bp"] not in history.POOL_FEE_BPS:
        raise WorldError(f"world.pool_fee_bp={conf['pool_fee_bp']!r}: the embedded pools are {history.POOL_FEE_BPS} bp")
    return conf


def _ratio(coarse: float, fine: float) -> int | None:
    k = coarse / fine
    return int(round(k)) if abs(k - round(k)) < 1e-9 and round(k) >= 1 else None


def _span_days(frame: pd.DataFrame) -> float:
    return float((frame["date"].iloc[-1] - frame["date"].iloc[0]) / pd.Timedelta(days=1))


def _window(frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    """The bars inside [start, end] (UTC dates, end inclusive)."""
    keep = np.ones(len(frame), bool)
    if start:
        keep &= (frame["date"] >= pd.Timestamp(start, tz="UTC")).to_numpy()
    if end:
        keep &= (frame["date"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).to_numpy()
    return frame[keep].reset_index(drop=True)


def _covers(frame: pd.DataFrame, start: str | None, end: str | None, earliest: pd.Timestamp,
            latest: pd.Timestamp) -> bool:
    slack = pd.Timedelta(days=2)
    first = max(pd.Timestamp(start, tz="UTC"), earliest) if start else earliest
    last = min(pd.Timestamp(end, tz="UTC"), latest) if end else latest
    return bool(frame["date"].iloc[0] <= first + slack and frame["date"].iloc[-1] >= last - slack)


def choose_bar_minutes(step_minutes: float, requested: int | None, start: str | None = None,
                       end: str | None = None) -> int:
    """The embedded resolution a world reads: the requested one, else the finest that fits the step and
    covers the world's window (one-minute bars hold a single month; five-minute bars start 2022-08)."""
    if requested is not None:
        if requested not in history.BAR_MINUTES:
            raise WorldError(f"world.bar_minutes={requested}: the embedded history has {history.BAR_MINUTES} minutes")
        if _ratio(requested, step_minutes) is None and _ratio(step_minutes, requested) is None:
            raise WorldError(f"world.bar_minutes={requested} and market.step_minutes={step_minutes:g}: one must "
                             "be a whole multiple of the other")
        return requested
    frames = {m: history.bars(m) for m in history.BAR_MINUTES}
    earliest = min(f["date"].iloc[0] for f in frames.values())
    latest = max(f["date"].iloc[-1] for f in frames.values())
    usable = [m for m, frame in frames.items()
              if (_ratio(m, step_minutes) or _ratio(step_minutes, m)) and _covers(frame, start, end, earliest, latest)]
    if not usable:
        raise WorldError(f"market.step_minutes={step_minutes:g}: no embedded history covers world.history_start="
                         f"{start} .. world.history_end={end} at a resolution that fits the step; set world.bar_minutes")
    return min(usable)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=8)
def _bars(source: str, bar_minutes: int | None) -> tuple[pd.DataFrame, float, str]:
    """(bars, bar minutes, content hash) of a user's file or the embedded history."""
    if source == "embedded":
        return history.bars(bar_minutes), float(bar_minutes), history.index()[history.bars_file(bar_minutes).name]["sha256"]
    frame = files.read_history(source)
    return frame, files.bar_interval_minutes(frame), _file_sha256(Path(source))


@functools.lru_cache(maxsize=8)
def _columns(source: str, bar_minutes: int | None, step_minutes: float, gas_units: float,
             jump_sigmas: float, pool_fee_bp: int, start: str | None, end: str | None,
             gas_level_days: int | None = None) -> tuple[np.ndarray, pd.DatetimeIndex, int, dict[str, Any]]:
    frame, minutes, digest = _bars(source, bar_minutes)
    if source == "embedded":
        frame = _window(frame, start, end)
    per_step = _ratio(step_minutes, minutes)
    if per_step and per_step > 1:             # bars finer than the step: aggregate
        frame, minutes = inputs.resample(frame, minutes, step_minutes), step_minutes
    steps_per_bar = _ratio(minutes, step_minutes)
    if steps_per_bar is None:
        raise WorldError(f"{source}: bars of {minutes:g} minutes do not fit market.step_minutes={step_minutes:g}; "
                         "use a step that divides the bar or is a multiple of it")
    link = pool.fit_volume_link(pool_fee_bp)
    arrays = inputs.bar_arrays(frame, minutes, history.gas_daily(), gas_units, link.elasticity, jump_sigmas,
                               gas_level_days)
    if len(arrays.columns) < 2:
        raise WorldError(f"{source}: fewer than 2 usable bars at {minutes:g} minutes")
    # the history's own cost of an action on these bars' days (the record's history_gas_median_usd)
    history_gas_median = float(np.median(inputs.gas_per_action_usd(pd.Series(arrays.dates), history.gas_daily(),
                                                                   gas_units)))
    info = {"history": source, "history_sha256": digest, "bar_minutes": minutes, "steps_per_bar": steps_per_bar,
            "n_bars": int(len(arrays.columns)), "history_start": str(arrays.dates[0]),
            "history_end": str(arrays.dates[-1]),
            "volume_link": {"elasticity": round(link.elasticity, 4), "r_squared": round(link.r_squared, 4),
                            "level_elasticity": round(link.level_elasticity, 4),
                            "level_r_squared": round(link.level_r_squared, 4), "n_days": link.n_days},
            "history_gas_median_usd": round(history_gas_median, 4)}
    return arrays.columns, arrays.dates, steps_per_bar, info


def _pool_levels(conf: dict[str, Any], dates: pd.DatetimeIndex | None) -> np.ndarray:
    """Real pool days (volume, liquidity multiples); for replay, the day each window starts on."""
    table = pool.levels(conf["pool_fee_bp"])
    values = table[["volume_multiple", "liquidity_multiple"]].to_numpy(float)
    if dates is None:
        return values
    days = pd.DatetimeIndex(table["date"])
    starts = dates.floor("D")
    # before the pool's first level day the pool did not exist or had no 30-day volume yet: the nearest day
    # would give those windows the volume of its first weeks (0.04 of the reference day's, against a median of
    # 0.48), a market the data do not show
    early = starts < days[0]
    if early.any():
        first = days[0].date()
        where, fix = ((f"world.history={conf['history']}", f"replay bars from {first} on") if conf.get("history")
                      else (f"world.history_start={conf.get('history_start')}",
                            f"set world.history_start={first} or later (the replay world's default)"))
        raise WorldError(f"{where}: {int(early.sum())} of {len(starts)} replay windows start before {first}, the "
                         f"first day of the {conf['pool_fee_bp']}-bp pool's volume history (its first 30-day "
                         f"mean); {fix}")
    # a day missing inside the history, or after its last day, takes the nearest real day
    return values[days.get_indexer(starts, method="nearest")]


# MarketConf numbers that only the parametric world without a level table reads (its reference-day levels)
TABLE_REPLACES = ("gas_usd_median", "gas_dispersion", "pool_liquidity_dispersion", "garch_start_log_sd")


def _parametric(conf: dict[str, Any], market: Mapping[str, Any], n_episodes: int, dtype: str,
                record: dict[str, Any]) -> Built:
    """The regimes world: the market model of `market.*` with a level table of real pool days."""
    from hbbatch.sim.price import LevelTable  # jax on demand: config checks stay light

    defaults = asdict(MarketConf())
    mk = {**defaults, **_plain(market)}
    gas_level_days = None if conf["gas_median_usd"] is None else int(conf["gas_level_days"])
    unused = [k for k in TABLE_REPLACES if mk[k] != defaults[k]]
    if unused:
        log.warning("world=%s: %s not used: each episode's liquidity, opening variance and gas come from a real pool "
                    "day (hbbatch/worlds/levels.py); for another gas level set "
                    "world.gas_median_usd", conf["name"],
                    ", ".join(f"market.{k}={mk[k]}" for k in unused))
    found = levels.embedded_level_table(float(conf["gas_units"]), float(mk["variance_level_days"]),
                                        float(mk["garch_alpha"]), float(mk["garch_beta"]),
                                        float(mk["gas_vol_elasticity"]), float(mk["volume_vol_share"]),
                                        int(conf["pool_fee_bp"]), conf["history_start"], gas_level_days)
    table = found.table
    values = table[list(levels.COLUMNS)].to_numpy(float)
    # a set gas level (world.gas_median_usd: the deployment level by default) rescales the days' relative gas,
    # as a historical world does; the validation reads the real days the same way (gas_level_days, gas_scale)
    gas_column = levels.COLUMNS.index("gas_usd")
    table_gas_median = float(np.median(values[:, gas_column]))
    gas_scale = 1.0 if conf["gas_median_usd"] is None else conf["gas_median_usd"] / max(table_gas_median, 1e-12)
    values[:, gas_column] *= gas_scale
    record.update(level_days={"n_days": int(len(table)), "first": str(table["date"].iloc[0].date()),
                              "last": str(table["date"].iloc[-1].date()), "pool_fee_bp": conf["pool_fee_bp"],
                              "variance_level_days": mk["variance_level_days"],
                              "quantiles": {c: [round(float(q), 6) for q in np.quantile(values[:, i], (0.1, 0.5, 0.9))]
                                            for i, c in enumerate(levels.COLUMNS) if c != "week_hour"},
                              "hour_of_week_variance_range": [round(float(found.seasonal.min()), 4),
                                                              round(float(found.seasonal.max()), 4)]},
                  gas_median_usd=round(table_gas_median * gas_scale, 4), gas_level_days=gas_level_days,
                  gas_scale=gas_scale)
    params = LevelTable(days=np.asarray(values, dtype=dtype),
                        hour_of_week_variance=np.asarray(found.seasonal, dtype=dtype))
    return Built(params=params, n_episodes=n_episodes, info=record)


def _within_bar(conf: dict[str, Any], bar_minutes: float, steps_per_bar: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The within-bar variance table of bars spread over steps_per_bar steps, and its record."""
    from hbbatch.sim.history import FLAT_PROFILE

    if steps_per_bar == 1:
        return FLAT_PROFILE, {"kind": "none", "why": "one step a bar"}
    if conf["within_bar"] == "flat":
        return FLAT_PROFILE, {"kind": "flat"}
    found = profiles.within_bar_variance(int(bar_minutes)) if float(bar_minutes).is_integer() else None
    if found is None:
        return FLAT_PROFILE, {"kind": "flat", "why": f"{bar_minutes:g}-minute bars have no "
                              f"{profiles.PROFILE_MINUTES}-minute slots (hbbatch/worlds/profiles.py)"}
    return found.table, found.info


def world_params(world: Any, market: Mapping[str, Any], agent: Mapping[str, Any] | None, n_steps: int,
                 n_episodes: int, dtype: str = "float32") -> Built:
    """The world params of a job (historical bars, or the parametric world's level table) and the manifest's record."""
    from hbbatch.sim.history import GAS_USD, HistoryParams  # jax on demand: config checks stay light

    conf = world_conf(world)
    record = {k: conf[k] for k in ("name", "kind", "description")}
    if conf["kind"] == "parametric":
        return _parametric(conf, market, n_episodes, dtype, record)
    agent = {**asdict(AgentConf()), **_plain(agent)}
    if agent.get("classifier") == "oracle":
        raise WorldError(f"agent.classifier=oracle: a {conf['kind']} world has no true regime to show the agent; "
                         "use agent.classifier=online or world=regimes")
    step_minutes = float(market.get("step_minutes", 1.0))
    source = str(Path(conf["history"]).expanduser()) if conf["history"] else "embedded"
    start, end = (None, None) if conf["history"] else (conf["history_start"], conf["history_end"])
    bar_minutes = None if conf["history"] else choose_bar_minutes(step_minutes, conf["bar_minutes"], start, end)
    # a world that sets its gas level reads the history's gas relative to each day's level, rescaled to it
    level_days = None if conf["gas_median_usd"] is None else conf["gas_level_days"]
    columns, dates, steps_per_bar, info = _columns(source, bar_minutes, step_minutes, float(conf["gas_units"]),
                                                   float(agent["jump_sigmas"]), int(conf["pool_fee_bp"]), start, end,
                                                   level_days)
    columns = columns.copy()
    bars_gas_median = float(np.median(columns[:, GAS_USD]))
    gas_scale = 1.0 if conf["gas_median_usd"] is None else conf["gas_median_usd"] / max(bars_gas_median, 1e-12)
    bar_minutes_used = info["bar_minutes"]
    window_bars, first_window_bar, levels_dates = 0, 0, None
    if conf["kind"] == "replay":
        if n_steps % steps_per_bar:
            raise WorldError(f"n_steps={n_steps} is not a whole number of {bar_minutes_used:g}-minute bars "
                             f"({steps_per_bar} steps each); use a multiple of {steps_per_bar}")
        window_bars = n_steps // steps_per_bar
        # the whole bars the agent's warm-up reads (history.warmup_world) come before the first window, so every
        # window, the first too, opens on the memory of the real bars before it, as the agent live would
        first_window_bar = warmup_steps(agent, market) // steps_per_bar
        n_windows = (len(columns) - first_window_bar) // window_bars
        if n_windows < 1:
            raise WorldError(f"{source}: {len(columns)} bars hold no window of {window_bars} bars "
                             f"(n_steps={n_steps}) after the {first_window_bar} bars of the warm-up "
                             f"(agent.warmup_minutes={agent['warmup_minutes']:g}); lower n_steps or "
                             "agent.warmup_minutes, or use a longer history")
        if n_episodes > n_windows:
            log.warning("world=%s: the history holds %d windows of %d steps after %d bars of warm-up; running all %d "
                        "of them, not %d episodes", conf["name"], n_windows, n_steps, first_window_bar, n_windows,
                        n_episodes)
        n_episodes = min(n_episodes, n_windows)
        levels_dates = dates[first_window_bar + np.arange(n_episodes) * window_bars]
    block_bars = conf["block_hours"] * 60.0 / bar_minutes_used
    within_bar, within_bar_info = _within_bar(conf, bar_minutes_used, steps_per_bar)
    f = lambda x: np.asarray(x, dtype=dtype)  # noqa: E731
    params = HistoryParams(
        bars=f(columns), pool_levels=f(_pool_levels(conf, levels_dates)),
        restart_prob=f(0.0 if window_bars else min(1.0, 1.0 / max(block_bars, 1.0))),
        window_bars=np.asarray(window_bars, np.int32), steps_per_bar=np.asarray(steps_per_bar, np.int32),
        drift_per_step=f(conf["drift_annual"] * step_minutes / MINUTES_PER_YEAR),
        gas_scale=f(gas_scale), lp_fee_share=f(conf["lp_fee_share"]),
        trend_tstat=f(agent["trend_tstat"]), jumpy_variance_share=f(agent["jumpy_variance_share"]),
        within_bar_variance=f(within_bar), first_window_bar=np.asarray(first_window_bar, np.int32))
    record.update(info, block_hours=conf["block_hours"], mean_block_bars=round(block_bars, 3),
                  within_bar=within_bar_info,
                  drift_annual=conf["drift_annual"], gas_median_usd=round(bars_gas_median * gas_scale, 4),
                  gas_level_days=level_days, gas_scale=gas_scale, lp_fee_share=conf["lp_fee_share"],
                  pool_fee_bp=conf["pool_fee_bp"], n_pool_days=int(params.pool_levels.shape[0]))
    if window_bars:
        record.update(window_bars=window_bars, first_window_bar=first_window_bar, n_windows=n_windows,
                      episodes_run=n_episodes)
    return Built(params=params, n_episodes=n_episodes, info=record)
