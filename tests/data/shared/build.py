"""Copy the part of ../shared that the tests read into tests/data/shared/, gzip-compressed (deterministic:
no name or time in the gzip header), so the suite runs on a fresh clone where ../shared does not exist.

    python tests/data/shared/build.py [--shared ../shared]

Sources and licences: see README.md beside this script. Two files the tests also read are embedded
uncompressed by the replay tests already (tests/data/mainnet_usdc_weth_2024-01-05/) and are not repeated.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAY = "data/mainnet_usdc_weth_2024-01-05"
FILES = (
    f"{DAY}/LICENSE",
    f"{DAY}/ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.pool.tick.csv",
    f"{DAY}/ethereum-0x8ad599c3a0ff1de082011efddc58f1908eb6e6d8-2024-01-05.pool.tick.csv",
    "data/ethereum_gas_eth_price_daily/LICENSE",
    "data/ethereum_gas_eth_price_daily/export-AvgGasPrice.csv",
    "data/ethereum_gas_eth_price_daily/export-EtherPrice.csv",
    "data/eth_usd_daily/coingecko_eth_usd_daily_2015-08-07_2026-01-05.csv",
    "data/dune_export_samples_base/mint_events.csv",
    "data/dune_export_samples_base/burn_events.csv",
    "reference/uniswap_gas_snapshots/v3-core_UniswapV3Pool.gas.spec.ts.snap",
    "reference/uniswap_gas_snapshots/v3-periphery_NonfungiblePositionManager.spec.ts.snap",
    "reference/uniswap_gas_snapshots/v3-periphery_SwapRouter.gas.spec.ts.snap",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / "shared")
    args = parser.parse_args()
    for relative in FILES:
        target = HERE / f"{relative}.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(filename="", mode="wb", fileobj=target.open("wb"), compresslevel=9, mtime=0) as out:
            out.write((args.shared / relative).read_bytes())
        print(target.relative_to(HERE), target.stat().st_size)


if __name__ == "__main__":
    main()
