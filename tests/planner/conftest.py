"""Catalogs in the format of hbbatch/planner/catalog.py, written to temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hbbatch.planner.catalog import load_catalog

# The roadmap's seven queries, with the metadata of the repository's queries/*.yaml (copied, so the
# hand-computed figures in these tests do not move when those files are retuned).
ROADMAP = {
    "gas_regime": dict(priority="P0", cost_credits=10, expensive=False, ttl_s=3600, provides=["gas_price", "eth_price"]),
    "pool_hourly_fees": dict(priority="P0", cost_credits=5, expensive=False, ttl_s=3600,
                             provides=["fee_rate", "volume", "active_liquidity", "eth_price"]),
    "realized_vol_jumps": dict(priority="P0", cost_credits=5, expensive=False, ttl_s=3600,
                               provides=["realized_vol", "jump_rate"]),
    "dynamic_fee_analysis": dict(priority="P1", cost_credits=10, expensive=False, ttl_s=86400,
                                 provides=["fee_rate", "volume", "realized_vol", "volume_vol_share"]),
    "regime_frequencies": dict(priority="P1", cost_credits=10, expensive=False, ttl_s=86400,
                               provides=["regime_mix", "realized_vol", "jump_rate", "drift"]),
    "liquidity_depth": dict(priority="P2", cost_credits=20, expensive=True, ttl_s=21600,
                            provides=["liquidity_depth", "active_liquidity"]),
    "mev_toxicity": dict(priority="P2", cost_credits=20, expensive=True, ttl_s=86400, provides=["mev_share", "volume"]),
}


def write_catalog(folder: Path, queries: dict[str, dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, meta in queries.items():
        cost_class = "expensive" if meta.get("expensive") else "cheap"
        full = {"name": name, "cost_class": cost_class, "columns": {"hour": "timestamp", "value": "double"},
                "parameters": {"pool": "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"}, **meta}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(full))
        (folder / f"{name}.sql").write_text("select 1 as value -- {{pool}}\n")
    return folder


@pytest.fixture
def roadmap_catalog(tmp_path):
    return load_catalog(write_catalog(tmp_path / "queries", ROADMAP))


@pytest.fixture(scope="session")
def roadmap_catalog_static(tmp_path_factory):
    """The roadmap catalog, written once (hypothesis tests may not use function-scoped fixtures)."""
    return load_catalog(write_catalog(tmp_path_factory.mktemp("queries"), ROADMAP))
