"""Rebuild pool_events.csv.gz: the first two hours of 2024-01-05 events of the mainnet USDC/WETH 0.05 % pool.

Source: ../shared/data/mainnet_usdc_weth_2024-01-05 (zelos-alpha/demeter-fetch tests/samples @ 2fda05e,
Apache-2.0), rows as published, columns the JSON-RPC stand-in needs. Run from the repository root:
    python tests/shadow/data/build_events.py
"""

from pathlib import Path

import pandas as pd

SOURCE = (Path(__file__).resolve().parents[4] / "shared" / "data" / "mainnet_usdc_weth_2024-01-05"
          / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.pool.tick.csv")
COLUMNS = ["block_number", "block_timestamp", "tx_type", "transaction_hash", "tx_index", "log_index", "sender",
           "receipt", "amount0", "amount1", "total_liquidity", "sqrtPriceX96", "current_tick"]
UNTIL = "2024-01-05 02:00:00"

if __name__ == "__main__":
    events = pd.read_csv(SOURCE, dtype=str)
    events = events[events["block_timestamp"] < UNTIL][COLUMNS]
    out = Path(__file__).with_name("pool_events.csv.gz")
    events.to_csv(out, index=False, compression={"method": "gzip", "mtime": 0})
    print(f"{out}: {len(events)} events")
