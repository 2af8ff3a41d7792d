"""Shared fixtures: the catalog, the committed snapshots, one calibration fitted from them, and the
local Dune stand-in serving the snapshots (with the config that points the Dune source at it)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from hbbatch.calibration.sources.snapshot import SNAPSHOT_DIR
from hbbatch.calibration.task import calibrate
from hbbatch.planner.catalog import load_catalog
from tests.calibration.dune_server import KEY, DuneStandIn, snapshot_scenario

# The windows the snapshots answer, so that a Dune run of them fits the same constants.
SNAPSHOT_WINDOWS = {name: {"lookback_days": 1} for name in
                    ("pool_hourly_fees", "realized_vol_jumps", "dynamic_fee_analysis", "mev_toxicity")}


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def snapshot_payloads():
    return {p.stem: json.loads(p.read_text()) for p in sorted(SNAPSHOT_DIR.glob("*.json"))}


@pytest.fixture(scope="session")
def snapshot_report(tmp_path_factory):
    """The report fitted from the committed snapshots, once per session."""
    report, _ = calibrate({"calibration": {"source": "snapshot"}}, tmp_path_factory.mktemp("snapshot_report"))
    return report


@pytest.fixture
def snapshot_copy(tmp_path):
    """A writable copy of the snapshots, to corrupt."""
    folder = tmp_path / "snapshots"
    shutil.copytree(SNAPSHOT_DIR, folder)
    return folder


def edit_snapshot(folder: Path, name: str, edit) -> None:
    path = folder / f"{name}.json"
    payload = json.loads(path.read_text())
    edit(payload)
    path.write_text(json.dumps(payload))


@pytest.fixture
def stand_in(snapshot_payloads, catalog):
    """The Dune stand-in answering each query's SQL with its snapshot; `executed` counts executions per
    query, `special[name]` adds Scenario fields (an error, never finishing, credits)."""
    now = pd.Timestamp.now(tz="UTC")
    # Each query's first line that has no parameter and no other query shares: it identifies the SQL.
    markers = {name: next(line for line in spec.sql.splitlines() if "{{" not in line
                          and not any(line in other.sql for o, other in catalog.items() if o != name))
               for name, spec in catalog.items()}
    special: dict[str, dict] = {}
    executed: Counter = Counter()

    def pick(sql, query_id):
        name = next(n for n, line in markers.items() if line in sql) if sql else "gas_regime"
        executed[name] += 1
        return snapshot_scenario(snapshot_payloads[name], now, **special.get(name, {}))

    with DuneStandIn(KEY, pick) as server:
        server.special, server.executed = special, executed
        yield server


@pytest.fixture
def with_key(monkeypatch):
    monkeypatch.setenv("DUNE_API_KEY", KEY)
    monkeypatch.delenv("DUNE_API_BASE_URL", raising=False)


@pytest.fixture
def dune_config(stand_in, tmp_path):
    """`dune_config(planner={...}, **dune)`: task=calibrate from the stand-in, fast polls and retries, the
    result cache and the campaign outputs (where the planner looks for live signals) under tmp_path."""

    def make(planner: dict | None = None, **dune) -> dict:
        conf = {"base_url": stand_in.base_url, "ping_frequency_s": 0.01, "retries": 2, "backoff_s": 0.0,
                "page_size": 500, "timeout_s": 5.0, "cache_dir": str(tmp_path / "cache"), **dune}
        return {"calibration": {"source": "dune", "parameters": dict(SNAPSHOT_WINDOWS), "dune": conf},
                "planner": dict(planner or {}), "paths": {"output_dir": str(tmp_path / "outputs")}}

    return make
