"""Real positions of the replayed day against the replay: what each one collected vs what the bars say.

A cycle is a MINT, the BURN that follows it and the COLLECT after that, for one position id
(owner-lower-upper) of demeter's `*.positions.csv`. Its real fees are COLLECT minus BURN amounts
(the burn's amounts are principal; the collect takes principal plus fees). The replay holds the
cycle's band and liquidity over the part of each minute bar between the mint's and the burn's
timestamps; a minute the position lived through is one the bar's liquidity already counts it in
(if in range at the close). Both are valued at the burn minute's close price.
Mint and burn in one block (just-in-time liquidity around a swap) live less than a bar: minute bars
cannot see them, and the comparison reports them apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hbbatch.replay.band import PoolSpec, accrue, usd_per_token1, value_usd
from hbbatch.replay.bars import MinuteBars, ReplayError

COLUMNS = ("position_id", "tx_type", "tick_lower", "tick_upper", "liquidity", "block_number", "block_timestamp",
           "pool_log_index", "amount0", "amount1", "transaction_hash")
USER_COLUMNS = ("address", "position_id", "tick_lower", "tick_upper", "start_time", "end_time", "liquidity",
                "start_hash", "end_hash")


def _read(path: Path | str, columns: tuple[str, ...], key: str, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ReplayError(f"{key}={path}: no such file; pass {what}")
    raw = pd.read_csv(path, dtype=str)
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise ReplayError(f"{path}: column(s) {', '.join(missing)} missing; {what} has {', '.join(columns)}")
    return raw


def _cycle(position_id: str, mint: Any, burn: Any, collect: Any) -> dict[str, Any]:
    return {"position_id": position_id, "tick_lower": int(float(mint.tick_lower)),
            "tick_upper": int(float(mint.tick_upper)), "liquidity": int(mint.liquidity),
            "minted_at": pd.Timestamp(mint.block_timestamp, tz="UTC"),
            "burned_at": pd.Timestamp(burn.block_timestamp, tz="UTC"),
            "same_block": int(mint.block_number) == int(burn.block_number),
            "real_fees_token0_raw": int(collect.amount0) - int(burn.amount0),
            "real_fees_token1_raw": int(collect.amount1) - int(burn.amount1)}


def read_cycles(path: Path | str, user_positions: Path | str | None = None) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """(MINT -> BURN -> COLLECT cycles with their real fees, positions that could not be matched).

    With `user_positions` (demeter's *.user_lp.csv: one row per position, its mint and burn transaction
    hashes), each position opened and closed in the file is one cycle, its events found by transaction
    hash and ticks; without it, cycles are paired in event order per position id."""
    raw = _read(path, COLUMNS, "replay.positions", "demeter's *.positions.csv")
    raw = raw.assign(block=raw["block_number"].astype(int), log=raw["pool_log_index"].astype(float))
    raw = raw.sort_values(["block", "log"], kind="stable")
    cycles, unmatched = [], []
    if user_positions is not None:
        users = _read(user_positions, USER_COLUMNS, "replay.user_positions", "demeter's *.user_lp.csv")
        closed = users[users["start_time"].notna() & users["end_time"].notna()]
        for row in closed.itertuples():
            same = (raw["tick_lower"] == row.tick_lower) & (raw["tick_upper"] == row.tick_upper)
            events = {kind: raw[same & (raw["tx_type"] == kind) & (raw["transaction_hash"] == tx)]
                      for kind, tx in (("MINT", row.start_hash), ("BURN", row.end_hash), ("COLLECT", row.end_hash))}
            events["MINT"] = events["MINT"][events["MINT"]["liquidity"] == row.liquidity]
            if any(len(frame) != 1 for frame in events.values()):
                unmatched.append({"position_id": str(row.position_id), "owner": str(row.address),
                                  "why": "no single MINT, BURN and COLLECT on its ticks in its transactions "
                                         f"({', '.join(f'{k}: {len(v)}' for k, v in events.items())})"})
                continue
            mint, burn, collect = (next(events[k].itertuples()) for k in ("MINT", "BURN", "COLLECT"))
            cycles.append(_cycle(str(row.position_id), mint, burn, collect))
        return pd.DataFrame(cycles), unmatched
    for position_id, events in raw.groupby("position_id", sort=True):
        mint = burn = None
        for event in events.itertuples():
            if event.tx_type == "MINT":
                mint, burn = event, None
            elif event.tx_type == "BURN" and mint is not None and int(event.liquidity) > 0:
                burn = event
            elif event.tx_type == "COLLECT" and mint is not None and burn is not None:
                cycles.append(_cycle(str(position_id), mint, burn, event))
                mint = burn = None
    return pd.DataFrame(cycles), unmatched


def compare(cycles: pd.DataFrame, bars: MinuteBars, pool: PoolSpec) -> pd.DataFrame:
    """Per cycle: replayed and real fees in USD (at the burn minute's close) and the relative error."""
    starts = bars.timestamp
    rows = []
    for cycle in cycles.itertuples():
        active, own = [], []
        for start in starts:
            end = start + pd.Timedelta(minutes=1)
            seconds = (min(end, cycle.burned_at) - max(start, cycle.minted_at)).total_seconds()
            active.append((max(int(seconds), 0), 60))
            own.append(cycle.minted_at < end <= cycle.burned_at)
        frame = accrue(bars, cycle.tick_lower, cycle.tick_upper, cycle.liquidity, pool, active=active,
                       own_in_pool=[o and (cycle.tick_lower <= c < cycle.tick_upper) for o, c in zip(own, bars.close_tick)])
        burn_bar = int(np.clip(np.searchsorted(starts, cycle.burned_at, side="right") - 1, 0, len(bars) - 1))
        price = usd_per_token1(bars.close_tick[burn_bar], pool)
        sim0 = sum(int(v) for v in frame["fees_token0_raw"])
        sim1 = sum(int(v) for v in frame["fees_token1_raw"])
        real_usd = value_usd(cycle.real_fees_token0_raw, cycle.real_fees_token1_raw, price, pool)
        sim_usd = value_usd(sim0, sim1, price, pool)
        rows.append({"position_id": cycle.position_id, "tick_lower": cycle.tick_lower, "tick_upper": cycle.tick_upper,
                     "width_ticks": cycle.tick_upper - cycle.tick_lower, "liquidity": str(cycle.liquidity),
                     "minted_at": cycle.minted_at, "burned_at": cycle.burned_at,
                     "minutes_held": (cycle.burned_at - cycle.minted_at).total_seconds() / 60.0,
                     "same_block": bool(cycle.same_block),
                     "real_fees_usd": real_usd, "replayed_fees_usd": sim_usd, "error_usd": sim_usd - real_usd,
                     "relative_error": (sim_usd - real_usd) / real_usd if real_usd > 0 else float("nan"),
                     "real_fees_token0": cycle.real_fees_token0_raw / 10**pool.decimals0,
                     "real_fees_token1": cycle.real_fees_token1_raw / 10**pool.decimals1,
                     "replayed_fees_token0": sim0 / 10**pool.decimals0, "replayed_fees_token1": sim1 / 10**pool.decimals1})
    return pd.DataFrame(rows)


def error_summary(table: pd.DataFrame) -> dict:
    """The distribution of relative errors, all cycles and apart for those that outlive a block."""
    def describe(part: pd.DataFrame) -> dict:
        errors = part["relative_error"].dropna()
        real, replayed = float(part["real_fees_usd"].sum()), float(part["replayed_fees_usd"].sum())
        return {"cycles": int(len(part)), "real_fees_usd": real, "replayed_fees_usd": replayed,
                "total_ratio": replayed / real if real > 0 else None,
                "relative_error_quantiles": {q: float(errors.quantile(float(q))) for q in ("0.1", "0.25", "0.5", "0.75", "0.9")}
                if len(errors) else {},
                "median_abs_relative_error": float(errors.abs().median()) if len(errors) else None,
                "within_25_percent": float((errors.abs() <= 0.25).mean()) if len(errors) else None}
    return {"all": describe(table), "multi_block": describe(table[~table["same_block"]]),
            "same_block": describe(table[table["same_block"]])}
