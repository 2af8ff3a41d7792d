"""`task=replay`: hold `replay.hold_band` over `replay.bars` and write replay.parquet and summary.json.

With `replay.agent=true` the simulator's agent replaces the fixed band (`agent.py`: warmed up on the bars'
first `agent.warmup_minutes`, agent.parquet and summary.json).

With `replay.positions`, the day's real positions are replayed too and positions.parquet holds the
comparison (summary.json: `positions`). Input is checked before anything is written.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any, Mapping

from hbbatch import __version__
from hbbatch.replay.band import BAND_CONVENTIONS, PoolSpec, accrue, check_band, place_band, value_usd
from hbbatch.replay.bars import ReplayError, read_minute_bars
from hbbatch.io import write_json, write_parquet


def _plain(section: Any) -> dict[str, Any]:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(section, DictConfig):
            return OmegaConf.to_container(section, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return dict(section or {})


def check_capital(capital_usd: Any) -> float:
    if not (isinstance(capital_usd, (int, float)) and capital_usd > 0 and capital_usd < float("inf")):
        raise ReplayError(f"agent.capital_usd={capital_usd}: must be a finite number > 0")
    return float(capital_usd)


def pool_of(replay: Mapping[str, Any]) -> PoolSpec:
    return PoolSpec(fee_pips=int(replay.get("fee_pips", 500)), tick_spacing=int(replay.get("tick_spacing", 10)),
                    decimals0=int(replay.get("decimals0", 6)), decimals1=int(replay.get("decimals1", 18)))


def check_settings(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(replay, agent) sections of a task=replay config whose settings go together, else one ReplayError:
    the bars named, and either a band or the agent."""
    replay, agent = _plain(config.get("replay")), _plain(config.get("agent"))
    if not replay.get("bars"):
        raise ReplayError("replay.bars: required; pass a demeter minute-bar CSV, e.g. replay.bars=/path/x.minute.csv")
    if replay.get("agent") and replay.get("hold_band") is not None:
        raise ReplayError("replay.hold_band and replay.agent=true: the agent places its own bands; drop one")
    if not replay.get("agent") and replay.get("hold_band") is None:
        raise ReplayError("replay.hold_band: required; give the band in pool ticks, e.g. 'replay.hold_band=[198900,199100]'")
    return replay, agent


def check_inputs(cfg: Any) -> None:
    """What task=replay refuses, raised as one ReplayError before anything is computed or written: the
    settings (`check_settings`), the band on the pool's grid, and the files read as the run reads them (the
    bars, the positions, and for the agent whether the bars hold its warm-up), by the functions the run
    reads them with. The pre-run check calls it before Hydra makes a folder (hbbatch/preflight.py)."""
    config = _plain(cfg)
    replay, agent = check_settings(config)
    if replay.get("agent"):
        from hbbatch.replay.agent import check_agent_inputs

        check_agent_inputs(config)
        return
    check_capital(agent.get("capital_usd", 100_000.0))
    check_band(replay["hold_band"], pool_of(replay))
    read_minute_bars(replay["bars"])
    if replay.get("positions"):
        from hbbatch.replay.positions import read_cycles

        read_cycles(replay["positions"], replay.get("user_positions"))


def replay_band(bars_path: Path | str, band: Any, capital_usd: float, pool: PoolSpec = PoolSpec(),
                positions_path: Path | str | None = None,
                user_positions_path: Path | str | None = None) -> tuple[Any, dict[str, Any], Any]:
    """(per-bar table, summary, positions table or None), nothing written."""
    capital_usd = check_capital(capital_usd)
    lower, upper = check_band(band, pool)
    bars = read_minute_bars(bars_path)
    placed = place_band(float(capital_usd), lower, upper, bars.open_tick[0], pool)
    table = accrue(bars, lower, upper, placed.liquidity, pool)
    fees0 = sum(int(v) for v in table["fees_token0_raw"])
    fees1 = sum(int(v) for v in table["fees_token1_raw"])
    end_price = float(table["price_close_usd"].iloc[-1])
    table["position_value_usd"] = table["position_token0"] + table["position_token1"] * table["price_close_usd"]
    table["hodl_value_usd"] = (placed.amount0 / 10**pool.decimals0 + placed.amount1 / 10**pool.decimals1
                               * table["price_close_usd"] + placed.idle_usd)
    table["fees_usd_cumulative"] = table["fees_usd"].cumsum()
    value_end = float(table["position_value_usd"].iloc[-1]) + placed.idle_usd
    summary = {
        "task": "replay",
        "bars": str(bars.path), "bars_sha256": hashlib.sha256(Path(bars.path).read_bytes()).hexdigest(),
        "n_bars": len(bars), "first_bar": bars.timestamp[0].isoformat(), "last_bar": bars.timestamp[-1].isoformat(),
        "missing_minutes": int(((bars.timestamp[-1] - bars.timestamp[0]).total_seconds() // 60) + 1 - len(bars)),
        "hold_band": [lower, upper], "width_ticks": upper - lower, "open_tick": placed.open_tick,
        "open_price_usd": placed.open_price_usd, "end_price_usd": end_price,
        "capital_usd": float(capital_usd), "liquidity": str(placed.liquidity),
        "deposit_token0": placed.amount0 / 10**pool.decimals0, "deposit_token1": placed.amount1 / 10**pool.decimals1,
        "idle_usd": placed.idle_usd,
        "fees_usd": float(table["fees_usd"].sum()),
        "fees_token0": fees0 / 10**pool.decimals0, "fees_token1": fees1 / 10**pool.decimals1,
        "fees_value_at_end_usd": value_usd(fees0, fees1, end_price, pool),
        "time_in_range": float(table["in_range_fraction"].mean()),
        "position_value_end_usd": value_end, "hodl_value_end_usd": float(table["hodl_value_usd"].iloc[-1]),
        "pnl_vs_hodl_usd": value_end + float(table["fees_usd"].sum()) - float(table["hodl_value_usd"].iloc[-1]),
        "pool": {"fee_pips": pool.fee_pips, "tick_spacing": pool.tick_spacing, "decimals0": pool.decimals0,
                 "decimals1": pool.decimals1},
        "conventions": BAND_CONVENTIONS,
        "hbbatch_version": __version__,
    }
    positions = None
    if positions_path:
        from hbbatch.replay.positions import compare, error_summary, read_cycles

        cycles, unmatched = read_cycles(positions_path, user_positions_path)
        positions = compare(cycles, bars, pool)
        summary["positions"] = {"file": str(positions_path), "user_positions": user_positions_path and str(user_positions_path),
                                "unmatched": unmatched, **error_summary(positions)}
    return table, summary, positions


def run(cfg: Any, output_dir: Path | str | None = None, out=None) -> int:
    out = out or sys.stdout
    replay, agent = check_settings(_plain(cfg))   # the files are checked as they are read, once
    if replay.get("agent"):
        return _run_agent(_plain(cfg), replay, output_dir, out)
    pool = pool_of(replay)
    table, summary, positions = replay_band(replay["bars"], replay["hold_band"], agent.get("capital_usd", 100_000.0),
                                            pool, replay.get("positions"), replay.get("user_positions"))
    target = Path(output_dir or replay.get("output_dir") or _hydra_dir())
    write_parquet(target / "replay.parquet", table)
    if positions is not None:
        write_parquet(target / "positions.parquet", positions.assign(
            minted_at=positions["minted_at"].astype(str), burned_at=positions["burned_at"].astype(str)))
    write_json(target / "summary.json", summary)
    print(f"replay: {summary['n_bars']} bars, band [{summary['hold_band'][0]}, {summary['hold_band'][1]}] "
          f"({summary['width_ticks']} ticks), liquidity {summary['liquidity']}", file=out)
    print(f"fees: {summary['fees_usd']:.2f} USD ({summary['fees_token0']:.6f} token0 + {summary['fees_token1']:.9f} "
          f"token1), time in range {summary['time_in_range']:.1%}; artifacts in {target}", file=out)
    if positions is not None:
        part = summary["positions"]["multi_block"]
        print(f"real positions: {summary['positions']['all']['cycles']} cycles "
              f"({len(summary['positions']['unmatched'])} not matched); outliving a block: {part['cycles']}, "
              f"median |relative error| {part['median_abs_relative_error']}", file=out)
    return 0


def _run_agent(config: dict[str, Any], replay: dict[str, Any], output_dir, out) -> int:
    """replay.agent=true: the simulator's agent over the bars, warmed up on their first agent.warmup_minutes."""
    from hbbatch.replay.agent import replay_agent

    table, summary = replay_agent(config)
    target = Path(output_dir or replay.get("output_dir") or _hydra_dir())
    write_parquet(target / "agent.parquet", table)
    write_json(target / "summary.json", summary)
    metrics = summary["metrics"]
    print(f"replay (agent): {summary['n_bars']} bars, the first {summary['warmup_steps']} a warm-up; "
          f"{summary['n_decisions']} decisions from {summary['first_decision']}", file=out)
    print(f"actions {metrics['actions']:.0f} (widens {metrics['widens']:.0f}), fees {metrics['fees_usd']:.2f} USD, "
          f"net PnL {metrics['net_pnl_usd']:+.2f} USD; artifacts in {target}", file=out)
    return 0


def _hydra_dir() -> str:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.output_dir
