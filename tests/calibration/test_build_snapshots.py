"""The committed snapshots are what the builder derives from the shared data (its embedded copy: tests/data/shared)."""

import json

import pandas as pd
import pytest

from hbbatch.calibration.build_snapshots import build_all
from hbbatch.calibration.sources.snapshot import SNAPSHOT_DIR


def test_build__regenerates_the_committed_snapshots(tmp_path, shared_dir):
    for path in build_all(shared_dir / "data", tmp_path):
        assert json.loads(path.read_text()) == json.loads((SNAPSHOT_DIR / path.name).read_text()), path.name


def test_minute_closes__equal_demeter_fetch_minute_bars(snapshot_payloads, shared_dir):
    rows = pd.DataFrame(snapshot_payloads["realized_vol_jumps"]["result"]["rows"])
    rows["timestamp"] = pd.to_datetime(rows["minute"].str.replace(" UTC", ""))
    bars = pd.read_csv(shared_dir / "data" / "mainnet_usdc_weth_2024-01-05"
                       / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv")
    bars["timestamp"] = pd.to_datetime(bars["timestamp"])
    joined = rows.merge(bars, on="timestamp")
    assert len(joined) == len(rows) == 1439
    assert (joined["close_tick"] == joined["closeTick"]).all()


def test_pool_volume__close_to_demeter_fetch_minute_inflows(snapshot_payloads, shared_dir):
    # An independent path: demeter-fetch's per-minute amounts in, valued at the minute's close.
    bars = pd.read_csv(shared_dir / "data" / "mainnet_usdc_weth_2024-01-05"
                       / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv",
                       dtype={"inAmount0": str, "inAmount1": str})
    price = 1e12 / 1.0001 ** bars["closeTick"]
    volume = (bars["inAmount0"].map(int) / 1e6 + bars["inAmount1"].map(int) / 1e18 * price).sum()
    ours = sum(r["volume_usd"] for r in snapshot_payloads["pool_hourly_fees"]["result"]["rows"])
    assert ours == pytest.approx(volume, rel=0.002)
