"""A sweep's criteria that name no job, a Ray cluster with no head at its address, and task=replay's and task=shadow's inputs, are refused before Hydra makes a folder: exit 2, one line, nothing
written (the campaign's, calibration's and sweeps' rows: tests/campaign/test_preflight.py). Each row: the
overrides (`{bars}` the committed day of minute bars, `{tmp}` a folder of the test's) and the line's text."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.test_cli import run_cli

DAY = Path(__file__).resolve().parent / "data" / "mainnet_usdc_weth_2024-01-05"
BARS = DAY / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv"
BAND = "replay.hold_band=[198950,199150]"

REFUSED = [
    ("a baseline no job has", ["-m", "campaign=A,B", "criteria.baseline=Z"],
     "criteria.baseline='Z': no job has this label; the jobs are A, B"),
    ("a baseline no job has, a swept key", ["-m", "agent.gas_usd=2,3", "criteria.baseline='agent.gas_usd=4'"],
     "criteria.baseline='agent.gas_usd=4': no job has this label"),
    ("a judged variant no job has", ["-m", "campaign=A,B,C", "criteria.judged=[D]"], "criteria.judged: ['D'] not among"),
    ("replay: no bars", ["task=replay", BAND], "replay.bars: required"),
    ("replay: bars that do not exist", ["task=replay", "replay.bars={tmp}/no.minute.csv", BAND], "no such file"),
    ("replay: bars that are not CSV", ["task=replay", "replay.bars={tmp}/bad.minute.csv", BAND], "not a readable CSV"),
    ("replay: no band", ["task=replay", "replay.bars={bars}"], "replay.hold_band: required"),
    ("replay: a reversed band", ["task=replay", "replay.bars={bars}", "replay.hold_band=[199150,198950]"],
     "lower must be below upper"),
    ("replay: a band off the grid", ["task=replay", "replay.bars={bars}", "replay.hold_band=[198951,199150]"],
     "multiples of the pool's tick spacing 10"),
    ("replay: a band and the agent", ["task=replay", "replay.bars={bars}", "replay.agent=true", BAND],
     "the agent places its own bands"),
    ("replay: positions that do not exist", ["task=replay", "replay.bars={bars}", BAND,
                                              "replay.positions={tmp}/no.positions.csv"], "replay.positions="),
    ("replay: bars shorter than the warm-up", ["task=replay", "replay.bars={bars}", "replay.agent=true",
                                               "agent.warmup_minutes=2000"], "agent.warmup_minutes=2000"),
    ("replay: the agent at another step", ["task=replay", "replay.bars={bars}", "replay.agent=true",
                                           "market.step_minutes=5"], "use market.step_minutes=1"),
    ("shadow: bars that do not exist", ["task=shadow", "shadow.bars={tmp}/no.minute.csv"], "no such file"),
    ("shadow: bars that are not CSV", ["task=shadow", "shadow.bars={tmp}/bad.minute.csv"], "unreadable as CSV"),
    ("shadow: the embedded day shorter than the default warm-up", ["task=shadow"], "agent.warmup_minutes=1440"),
    ("shadow: no endpoint", ["task=shadow", "shadow.source=rpc"], "shadow.rpc_url: required"),
    ("ray: no head at the cluster's address", ["-m", "campaign=A,B", "hydra/launcher=ray_cluster",
                                               "hydra.launcher.ray.init.address=127.0.0.1:{port}"],
     "no Ray head answers at 127.0.0.1:"),
    ("ray: no head at a ray:// address", ["-m", "campaign=A,B", "hydra/launcher=ray_cluster",
                                          "hydra.launcher.ray.init.address=ray://127.0.0.1:{port}"],
     "start one there (ray start --head --port="),
    ("shadow: an endpoint that is not http", ["task=shadow", "shadow.source=rpc", "shadow.rpc_url=ftp://node/KEY"],
     "use an http:// or https:// endpoint"),
]


@pytest.mark.parametrize("overrides, needle", [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED])
def test_refused_before_any_folder_is_made_with_one_line(overrides, needle, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "bad.minute.csv").write_text('a,"b\n1,2,3,4\n')
    out = tmp_path / "out"
    state = tmp_path / "state"
    with socket.socket() as closed:   # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    overrides = [o.format(bars=BARS, tmp=inputs, port=port) for o in overrides]
    assert run_cli(f"hydra.run.dir={out}", f"hydra.sweep.dir={out}", f"shadow.state_dir={state}", *overrides) == 2
    err = capsys.readouterr().err
    assert err.startswith("hbbatch: error: ") and needle in err and err.count("\n") == 1, err
    assert "KEY" not in err
    assert not out.exists() and not state.exists()
