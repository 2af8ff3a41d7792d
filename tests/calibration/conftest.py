"""Shared fixtures: the catalog, the committed snapshots, and one calibration fitted from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hbbatch.calibration.sources.snapshot import SNAPSHOT_DIR
from hbbatch.calibration.task import calibrate
from hbbatch.planner.catalog import load_catalog

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


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
