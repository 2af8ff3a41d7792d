"""Derive the embedded snapshot results of every query from the real data in `../shared/data`.

    python -m hbbatch.calibration.build_snapshots [--data ../shared/data] [--out hbbatch/data/snapshots]

Each output is what the query's DuneSQL returns for the window the shipped data covers, written in
the shape of Dune's results JSON, with an `hbbatch` block naming the parameters that window
corresponds to, the source files, their licences and how the rows were derived. The computation
mirrors the SQL (same formulas, same grid, same column types); where the data cannot support the
SQL exactly, the block says what differs. Runs only at build time: the snapshot source reads the
committed JSON and never this folder.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from hbbatch.calibration.results import DUNE_TYPES, format_dune_timestamp, results_payload, sha256_of
from hbbatch.planner.catalog import QuerySpec, load_catalog
from hbbatch import io as hbio

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "hbbatch" / "data" / "snapshots"
LN_TICK = math.log(1.0001)

POOL_005 = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"      # mainnet USDC/WETH 0.05 %, tick spacing 10
POOL_005_FEE_TIER = 0.0005
POOL_005_TICK_SPACING = 10
POOL_005_DAY = "mainnet_usdc_weth_2024-01-05/ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.pool.tick.csv"
BASE_POOL = "0xfdbaf04326acc24e3d1788333826b71e3291863a"

SOURCES = {
    "demeter-fetch": {"repository": "zelos-alpha/demeter-fetch : tests/samples @ 2fda05e", "licence": "Apache-2.0"},
    "etherscan": {"repository": "cagatayozbek/ethereum-gas-price-prediction : data/ @ 78b9450",
                  "licence": "repository MIT; the figures are Etherscan's"},
    "coingecko": {"repository": "markurusov1/defischolar_research : data/historical.data.csv @ 4650ead",
                  "licence": "not stated; public market data"},
    "dune-export-base": {"repository": "Lilyjjo/uniswap_v3_analyze_fees : example_pool_data @ f0380f7",
                         "licence": "not stated; public on-chain events"},
}


class SnapshotBuildError(ValueError):
    """The shared data is missing or not in the expected format."""


def _read(data: Path, relative: str, **kwargs: Any) -> pd.DataFrame:
    path = data / relative
    if not path.exists():
        raise SnapshotBuildError(f"{path}: not found; pass --data pointing at the shared data folder")
    return pd.read_csv(path, **kwargs)


def _pool_swaps(data: Path) -> pd.DataFrame:
    """Every swap of the 0.05 % pool on 2024-01-05 in log order, with its USD volume (input leg)."""
    return _read_pool_swaps(data).copy()


@functools.lru_cache(maxsize=2)
def _read_pool_swaps(data: Path) -> pd.DataFrame:
    events = _read(data, POOL_005_DAY, dtype=str)
    swaps = events[events["tx_type"] == "SWAP"].copy()
    swaps["time"] = pd.to_datetime(swaps["block_timestamp"], utc=True)
    swaps["block"] = swaps["block_number"].astype(int)
    swaps["log_index"] = swaps["log_index"].astype(int)
    swaps = swaps.sort_values(["block", "log_index"]).reset_index(drop=True)
    swaps["tick"] = swaps["current_tick"].astype(float).astype(int)
    amount0 = swaps["amount0"].map(int)
    amount1 = swaps["amount1"].map(int)
    # As the SQL: token0 = USDC (6 decimals), token1 = WETH (18); price USDC/ETH = 1e12 / 1.0001^tick.
    swaps["price_usd"] = 1e12 / np.power(1.0001, swaps["tick"].to_numpy(float))
    swaps["volume_usd"] = np.where(amount0 > 0, amount0.map(float) / 1e6,
                                   amount1.map(float) / 1e6 / np.power(1.0001, swaps["tick"].to_numpy(float)))
    swaps["active_liquidity"] = swaps["total_liquidity"].map(int).map(float) / 1e12
    swaps["token1_in"] = amount1 > 0
    swaps["amount1_abs"] = amount1.abs().map(float)
    return swaps


def _minute_grid(swaps: pd.DataFrame) -> pd.DataFrame:
    """Close tick, volume and swap count per minute, on the full grid between the first and last swap."""
    minute = swaps["time"].dt.floor("min")
    per_minute = swaps.assign(minute=minute).groupby("minute").agg(
        close_tick=("tick", "last"), volume_usd=("volume_usd", "sum"), swap_count=("tick", "size"))
    grid = pd.date_range(per_minute.index.min(), per_minute.index.max(), freq="min", tz="UTC")
    filled = per_minute.reindex(grid)
    filled["close_tick"] = filled["close_tick"].ffill().astype(int)
    filled["volume_usd"] = filled["volume_usd"].fillna(0.0)
    filled["swap_count"] = filled["swap_count"].fillna(0).astype(int)
    filled.index.name = "minute"
    return filled.reset_index()


def gas_regime(data: Path, spec: QuerySpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    lookback_days = int(spec.parameters["lookback_days"])
    gas = _read(data, "ethereum_gas_eth_price_daily/export-AvgGasPrice.csv")
    eth = _read(data, "ethereum_gas_eth_price_daily/export-EtherPrice.csv")
    joined = gas.merge(eth, on=["Date(UTC)", "UnixTimeStamp"], how="inner")
    joined["day"] = pd.to_datetime(joined["UnixTimeStamp"].astype(int), unit="s", utc=True)
    joined = joined.sort_values("day").tail(lookback_days)
    frame = pd.DataFrame({"day": joined["day"],
                          "gas_price_gwei": joined["Value (Wei)"].astype(float) / 1e9,
                          "eth_price_usd": joined["Value"].astype(float)})
    return frame, {
        "parameters": {"lookback_days": lookback_days},
        "as_of": frame["day"].max() + pd.Timedelta(days=1),
        "derived_from": [_file("etherscan", "ethereum_gas_eth_price_daily/export-AvgGasPrice.csv"),
                         _file("etherscan", "ethereum_gas_eth_price_daily/export-EtherPrice.csv")],
        "how": f"the last {lookback_days} days of Etherscan's daily average gas price (wei / 1e9) joined on the "
               "date with Etherscan's daily ETH price; the SQL averages ethereum.transactions.gas_price per "
               "block_date and prices.hour (WETH) per day",
    }


def pool_hourly_fees(data: Path, spec: QuerySpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    swaps = _pool_swaps(data)
    hour = swaps["time"].dt.floor("h")
    grouped = swaps.assign(hour=hour).groupby("hour")
    frame = grouped.agg(swap_count=("tick", "size"), volume_usd=("volume_usd", "sum"),
                        active_liquidity=("active_liquidity", "last"), close_price_usd=("price_usd", "last"))
    frame = frame.reset_index()
    frame["fees_usd"] = frame["volume_usd"] * POOL_005_FEE_TIER
    frame["fee_tier"] = POOL_005_FEE_TIER
    frame["lp_fee_rate"] = POOL_005_FEE_TIER       # fee switch off in 2024: LPs keep the whole tier
    frame["tick_spacing"] = POOL_005_TICK_SPACING
    return frame[list(spec.columns)], _pool_day_meta(
        spec, "swaps grouped by hour: count, sum of input-leg USD volume, fees = volume x 0.0005 (fee tier from "
              "the pool's creation; no SetFeeProtocol before 2025, so the LP keeps the whole tier), last swap's "
              "in-range liquidity / 1e12 and price")


def realized_vol_jumps(data: Path, spec: QuerySpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    grid = _minute_grid(_pool_swaps(data))
    grid["close_price_usd"] = 1e12 / np.power(1.0001, grid["close_tick"].to_numpy(float))
    grid["log_return"] = -grid["close_tick"].diff() * LN_TICK
    frame = grid.dropna(subset=["log_return"])
    return frame[list(spec.columns)], _pool_day_meta(
        spec, "last swap tick per minute, forward-filled on the minute grid between the first and last swap; "
              "log return = -(tick change) x ln(1.0001); the first minute (no return) dropped")


def dynamic_fee_analysis(data: Path, spec: QuerySpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    grid = _minute_grid(_pool_swaps(data))
    grid["abs_log_return"] = grid["close_tick"].diff().abs() * LN_TICK
    grid["fees_usd"] = grid["volume_usd"] * POOL_005_FEE_TIER
    frame = grid.dropna(subset=["abs_log_return"])
    return frame[list(spec.columns)], _pool_day_meta(
        spec, "per minute on the forward-filled grid: |tick change| x ln(1.0001), sum of input-leg USD volume "
              "(0 in minutes without swaps), fees = volume x 0.0005, swap count")


def mev_toxicity(data: Path, spec: QuerySpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    swaps = _pool_swaps(data)
    swaps["victim"] = _sandwich_victims(swaps)
    hour = swaps["time"].dt.floor("h")
    grouped = swaps.assign(hour=hour, victim_volume=swaps["volume_usd"].where(swaps["victim"], 0.0)).groupby("hour")
    frame = grouped.agg(trade_count=("tick", "size"), volume_usd=("volume_usd", "sum"),
                        sandwiched_count=("victim", "sum"), sandwiched_volume_usd=("victim_volume", "sum"))
    frame = frame.reset_index()
    frame["sandwiched_count"] = frame["sandwiched_count"].astype(int)
    frame["mev_share"] = frame["sandwiched_volume_usd"] / frame["volume_usd"]
    meta = _pool_day_meta(
        spec, "swaps grouped by hour; a victim is a swap between a front and a back leg in one block where both "
              "legs come from the same pool-level sender and recipient in two different transactions, in opposite "
              "directions, with the back leg's WETH amount within 10 % of the front's; mev_share = victim volume "
              "/ volume")
    meta["differs_from_sql"] = ("dex.sandwiched keys the attacker on the transaction's sender (tx_from), which the "
                                "shipped events do not carry; the pool-level sender and recipient plus the "
                                "matched leg sizes stand in for it, so a bot routing through a shared contract "
                                "can be missed")
    return frame[list(spec.columns)], meta


def _sandwich_victims(swaps: pd.DataFrame) -> pd.Series:
    columns = ["block", "sender", "receipt", "transaction_hash", "token1_in", "amount1_abs"]
    records = swaps[columns].to_dict("records")
    blocks: dict[int, list[int]] = {}
    for position, record in enumerate(records):
        blocks.setdefault(record["block"], []).append(position)
    victim = [False] * len(records)
    for positions in blocks.values():
        for i, front_at in enumerate(positions):
            front = records[front_at]
            for k in range(i + 2, len(positions)):
                back = records[positions[k]]
                if (front["sender"] == back["sender"] and front["receipt"] == back["receipt"]
                        and front["transaction_hash"] != back["transaction_hash"]
                        and front["token1_in"] != back["token1_in"] and front["amount1_abs"] > 0
                        and abs(back["amount1_abs"] / front["amount1_abs"] - 1.0) < 0.1):
                    for between in positions[i + 1: k]:
                        if records[between]["receipt"] != front["receipt"]:
                            victim[between] = True
    return pd.Series(victim, index=swaps.index)


def regime_frequencies(data: Path, spec: QuerySpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    lookback_days = int(spec.parameters["lookback_days"])
    relative = "eth_usd_daily/coingecko_eth_usd_daily_2015-08-07_2026-01-05.csv"
    prices = _read(data, relative, encoding="utf-8-sig")
    prices["day"] = pd.to_datetime(prices["date"].str.replace(" UTC", "", regex=False), utc=True)
    prices = prices.sort_values("day")
    prices["log_return"] = np.log(prices["price"].astype(float)).diff()
    frame = prices.dropna(subset=["log_return"]).tail(lookback_days)
    frame = pd.DataFrame({"day": frame["day"], "close_price_usd": frame["price"].astype(float),
                          "log_return": frame["log_return"]})
    return frame, {
        "parameters": {"lookback_days": lookback_days},
        "as_of": frame["day"].max().floor("D") + pd.Timedelta(days=1),
        "derived_from": [_file("coingecko", relative)],
        "how": f"CoinGecko's daily ETH/USD price (the 00:00 UTC snapshot) as published, the log return of each "
               f"day on the previous row, the last {lookback_days} returns; the SQL reads WETH from prices.hour "
               f"at 00:00 UTC. Rows keep CoinGecko's timestamps (a few are minutes off 00:00)",
    }


def liquidity_depth(data: Path, spec: QuerySpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    mints = _read(data, "dune_export_samples_base/mint_events.csv", dtype=str)
    burns = _read(data, "dune_export_samples_base/burn_events.csv", dtype=str)
    mints, burns = (f[f["contract_address"] == BASE_POOL] for f in (mints, burns))
    deltas: dict[tuple[int, int], int] = {}
    for frame, sign in ((mints, 1), (burns, -1)):
        for lower, upper, amount in zip(frame["tickLower"], frame["tickUpper"], frame["amount"]):
            key = (int(lower), int(upper))
            deltas[key] = deltas.get(key, 0) + sign * int(amount)
    if any(v < 0 for v in deltas.values()):
        raise SnapshotBuildError("dune_export_samples_base: a position's burns exceed its mints; the export is incomplete")
    edges: dict[int, int] = {}
    for (lower, upper), liquidity in deltas.items():
        if liquidity > 0:
            edges[lower] = edges.get(lower, 0) + liquidity
            edges[upper] = edges.get(upper, 0) - liquidity
    ticks = sorted(edges)
    running, rows = 0, []
    for tick, next_tick in zip(ticks[:-1], ticks[1:]):
        running += edges[tick]
        if running > 0:
            rows.append({"tick_lower": tick, "tick_upper": next_tick, "liquidity": float(running)})
    current_tick, current_time = _tick_from_last_in_range_mint(mints)
    frame = pd.DataFrame(rows)
    frame["current_tick"] = current_tick
    times = pd.concat([mints["evt_block_time"], burns["evt_block_time"]]).map(
        lambda s: pd.Timestamp(s.replace(" UTC", ""), tz="UTC"))
    return frame[list(spec.columns)], {
        "parameters": {"pool": BASE_POOL, "pool_events": "uniswap_v3_base.UniswapV3Pool",
                       "current_tick_lookback_days": int(spec.parameters.get("current_tick_lookback_days", 1))},
        "as_of": times.max(),
        "derived_from": [_file("dune-export-base", "dune_export_samples_base/mint_events.csv"),
                         _file("dune-export-base", "dune_export_samples_base/burn_events.csv")],
        "how": "net liquidity per (tickLower, tickUpper) = sum of Mint amounts - sum of Burn amounts over the pool's "
               "whole history (the export starts at its creation on 2024-12-16), cumulated over the initialised "
               "ticks into segments with positive liquidity",
        "differs_from_sql": (
            "a Base pool (1 % fee, tick spacing 200), not the default Ethereum pool, whose full Mint/Burn history "
            "is not in the shipped data; the export has no swaps, so the current tick is inverted from the last "
            f"Mint that added both tokens ({current_time}): sqrt(P) = amount1 / L + sqrt(1.0001^tickLower)"),
    }


def _tick_from_last_in_range_mint(mints: pd.DataFrame) -> tuple[int, str]:
    both = mints[(mints["amount0"].map(int) > 0) & (mints["amount1"].map(int) > 0)]
    if both.empty:
        raise SnapshotBuildError("dune_export_samples_base/mint_events.csv: no Mint added both tokens; "
                                 "cannot place the current tick")
    last = both.assign(block=both["evt_block_number"].astype(int), index=both["evt_index"].astype(int)) \
        .sort_values(["block", "index"]).iloc[-1]
    sqrt_lower = math.sqrt(1.0001 ** int(last["tickLower"]))
    sqrt_price = int(last["amount1"]) / int(last["amount"]) + sqrt_lower
    return int(math.floor(math.log(sqrt_price**2) / LN_TICK)), str(last["evt_block_time"])


def _pool_day_meta(spec: QuerySpec, how: str) -> dict[str, Any]:
    parameters = {k: v for k, v in spec.parameters.items()}
    parameters.update(pool=POOL_005, lookback_days=1)
    return {
        "parameters": parameters,
        "as_of": pd.Timestamp("2024-01-06 00:00:00", tz="UTC"),
        "derived_from": [_file("demeter-fetch", POOL_005_DAY)],
        "how": "every event of the pool on 2024-01-05 (SWAP rows: amounts, tick, in-range liquidity), " + how,
    }


def _file(source: str, relative: str) -> dict[str, str]:
    return {"file": f"../shared/data/{relative}", **SOURCES[source]}


BUILDERS: dict[str, Callable[[Path, QuerySpec], tuple[pd.DataFrame, dict[str, Any]]]] = {
    "gas_regime": gas_regime,
    "pool_hourly_fees": pool_hourly_fees,
    "realized_vol_jumps": realized_vol_jumps,
    "dynamic_fee_analysis": dynamic_fee_analysis,
    "regime_frequencies": regime_frequencies,
    "liquidity_depth": liquidity_depth,
    "mev_toxicity": mev_toxicity,
}


def to_rows(frame: pd.DataFrame, spec: QuerySpec) -> list[dict[str, Any]]:
    """Rows as Dune sends them: timestamps as `... UTC` strings, integers as ints, doubles as floats."""
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for column, kind in spec.columns.items():
            value = record[column]
            if kind == "timestamp":
                row[column] = format_dune_timestamp(value)
            elif kind == "bigint":
                row[column] = int(value)
            elif kind == "double":
                row[column] = float(value)
            else:
                row[column] = value
        rows.append(row)
    return rows


def build_payload(name: str, data: Path, spec: QuerySpec) -> dict[str, Any]:
    frame, meta = BUILDERS[name](data, spec)
    rows = to_rows(frame, spec)
    names = list(spec.columns)
    types = [DUNE_TYPES[spec.columns[c]] for c in names]
    digest = sha256_of({"column_names": names, "column_types": types, "rows": rows}).split(":")[1]
    payload = results_payload(rows, names, types, execution_id=f"snapshot-{name}-{digest[:16]}",
                              ended_at=meta.pop("as_of"))
    payload["hbbatch"] = {"query": name, "sql_sha256": sha256_of(spec.sql), **meta}
    return payload


def build_all(data: Path, out: Path, names: list[str] | None = None) -> list[Path]:
    catalog = load_catalog()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or list(BUILDERS):
        payload = build_payload(name, data, catalog[name])
        path = out / f"{name}.json"
        hbio.write_text(path, json.dumps(payload, indent=1, allow_nan=False) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the snapshot JSON files go")
    parser.add_argument("names", nargs="*", help="queries to build (default: all)")
    args = parser.parse_args(argv)
    for path in build_all(args.data, args.out, args.names or None):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
