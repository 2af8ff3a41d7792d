"""Derive the embedded real history (`hbbatch/data/history/`) from the shared data folder.

    python -m hbbatch.worlds.build_history [--data ../shared/data] [--out hbbatch/data/history]

Deterministic: the same inputs give byte-identical files (fixed row order, fixed parquet settings,
no timestamps of the build inside). Prices are kept exactly: Binance quotes have two decimals, so
they are stored as integer cents; volumes as float32 (seven significant digits). Runs only at build
time; the loaders in `hbbatch.worlds.history` read the committed files and never this folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "hbbatch" / "data" / "history"

BARS = {  # minutes -> shared file
    60: "eth_usdt_binance_1h/eth_usdt_1h_2017-08-17_2025-04-30.parquet",
    5: "eth_usdt_binance_5m/eth_usdt_5m_2022-08-01_2025-04-30.parquet",
    1: "eth_usdt_binance_1m_2024-07/eth_usdt_1m_2024-07-26_2024-08-25.parquet",
}
POOLS = {  # fee tier (bp) -> shared file
    5: "mainnet_weth_usdt_pool_daily/weth_usdt_005pct_pool_day_2021-05-05_2025-04-30.csv",
    30: "mainnet_weth_usdt_pool_daily/weth_usdt_030pct_pool_day_2021-05-05_2025-04-30.csv",
}
POOL_ADDRESSES = {5: "0x11b815efb8f581194ae79006d24e0d814b7697f6", 30: "0x4e68ccd3e89f51c3074ca5072bbac773960dfa36"}
GAS = "ethereum_gas_eth_price_daily/export-AvgGasPrice.csv"
ETH_PRICE = "ethereum_gas_eth_price_daily/export-EtherPrice.csv"
PARQUET_OPTIONS = dict(compression="zstd", compression_level=19, use_dictionary=False,
                       write_statistics=False, store_schema=False)


class HistoryBuildError(ValueError):
    """The shared data is missing or not in the expected format."""


def _path(data: Path, relative: str) -> Path:
    path = data / relative
    if not path.exists():
        raise HistoryBuildError(f"{path}: not found; pass --data pointing at the shared data folder")
    return path


def _cents(prices: pd.Series, name: str) -> np.ndarray:
    cents = np.round(prices.to_numpy(float) * 100.0)
    if np.max(np.abs(cents / 100.0 - prices.to_numpy(float))) > 1e-6:
        raise HistoryBuildError(f"{name}: prices carry more than two decimals; cents would lose them")
    return cents.astype(np.int32)


def bars_table(frame: pd.DataFrame, name: str) -> pa.Table:
    frame = frame.sort_values("date")
    seconds = (frame["date"].astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000).to_numpy()
    columns = {"time_s": pa.array(seconds.astype(np.int64))}
    for column in ("open", "high", "low", "close"):
        columns[f"{column}_cents"] = pa.array(_cents(frame[column], f"{name}.{column}"))
    columns["volume_eth"] = pa.array(frame["volume"].to_numpy(np.float32))
    return pa.table(columns)


def pool_table(frame: pd.DataFrame) -> pa.Table:
    frame = frame.sort_values("date")
    return pa.table({
        "time_s": pa.array(frame["date"].to_numpy(np.int64)),
        # token0 = WETH, token1 = USDT: token1Price is USDT per WETH
        "price_usd": pa.array(frame["token1Price"].astype(float).to_numpy(np.float32)),
        "volume_usd": pa.array(frame["volumeUSD"].astype(float).to_numpy(np.float64)),
        "tvl_usd": pa.array(frame["tvlUSD"].astype(float).to_numpy(np.float64)),
    })


def gas_table(gas: pd.DataFrame, price: pd.DataFrame) -> pa.Table:
    merged = gas.merge(price, on="UnixTimeStamp", how="inner", suffixes=("_gas", "_price"))
    merged = merged[(merged["Value (Wei)"] > 0) & (merged["Value"] > 0)].sort_values("UnixTimeStamp")
    return pa.table({
        "time_s": pa.array(merged["UnixTimeStamp"].to_numpy(np.int64)),
        "gas_price_gwei": pa.array((merged["Value (Wei)"].to_numpy(float) * 1e-9).astype(np.float32)),
        "eth_price_usd": pa.array(merged["Value"].to_numpy(float).astype(np.float32)),
    })


def _encodings(table: pa.Table) -> dict[str, str]:
    # consecutive times and cents differ by little: delta-packed ints; floats split by byte
    return {field.name: "DELTA_BINARY_PACKED" if pa.types.is_integer(field.type) else "BYTE_STREAM_SPLIT"
            for field in table.schema}


def _write(table: pa.Table, path: Path) -> str:
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, column_encoding=_encodings(table), **PARQUET_OPTIONS)
    tmp.replace(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(data: Path = DEFAULT_DATA, out: Path = DEFAULT_OUT) -> dict[str, dict]:
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, tuple[pa.Table, str]] = {}
    for minutes, relative in BARS.items():
        tables[f"eth_usdt_{minutes}m.parquet"] = (
            bars_table(pd.read_parquet(_path(data, relative)), relative), relative)
    for tier, relative in POOLS.items():
        tables[f"pool_weth_usdt_{tier:02d}bp_daily.parquet"] = (pool_table(pd.read_csv(_path(data, relative))), relative)
    gas = pd.read_csv(_path(data, GAS))
    price = pd.read_csv(_path(data, ETH_PRICE))
    tables["gas_daily.parquet"] = (gas_table(gas, price), f"{GAS} + {ETH_PRICE}")
    index = {}
    for name, (table, source) in tables.items():
        digest = _write(table, out / name)
        source_digest = " + ".join(hashlib.sha256(_path(data, part.strip()).read_bytes()).hexdigest()[:16]
                                   for part in source.split("+"))
        index[name] = {"rows": table.num_rows, "sha256": digest, "source": source, "source_sha256_16": source_digest}
    (out / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for name, entry in build(args.data, args.out).items():
        print(f"{name}: {entry['rows']} rows, sha256 {entry['sha256'][:12]}")


if __name__ == "__main__":
    main()
