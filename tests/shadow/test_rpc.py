"""The JSON-RPC source through web3.py against the stand-in replaying the real 2024-01-05 pool events.

Oracle: demeter's published minute bars of the same pool and day (the embedded default bars), built
independently from the same events: each step's close tick, swapped-in amounts and liquidity must match.
"""

from __future__ import annotations

import gzip
import time

import pandas as pd
import pytest

from hbbatch.shadow.rpc import RpcError, RpcSource
from hbbatch.shadow.sources import EMBEDDED_BARS
from tests.shadow.conftest import OPEN_BLOCK, SECRET, decisions, rpc_overrides, run_shadow_cli

READ_ONLY = {"eth_chainId", "eth_blockNumber", "eth_getBlockByNumber", "eth_getLogs", "eth_call", "eth_getCode"}


def _settings(url: str, **extra) -> dict:
    base = {"rpc_url": f"{url}/v3/{SECRET}", "pool": "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640", "chain_id": 1,
            "poll_s": 0.1, "confirmations": 2, "start_block": OPEN_BLOCK, "timeout_s": 1.0, "max_retries": 5,
            "backoff_s": 0.02, "logs_chunk_blocks": 500, "gas_tip_gwei": 0.1}
    return {**base, **extra}


def _bars(n: int) -> pd.DataFrame:
    with gzip.open(EMBEDDED_BARS, "rt") as handle:
        return pd.read_csv(handle, dtype=str).iloc[:n]


class _Waited(Exception):
    pass


def _take(source: RpcSource, n: int, timeout: float = 90.0) -> list:
    """The first n observations, or those that came before the source sat idle past `timeout`."""
    out, deadline = [], time.monotonic() + timeout

    def idle():
        if time.monotonic() > deadline:
            raise _Waited

    try:
        for obs, _ in source.observations(source.start_cursor(), idle=idle):
            out.append(obs)
            if len(out) == n:
                break
    except _Waited:
        pass
    return out


def test_rpc__steps_match_the_published_minute_bars_of_the_same_events(standin_factory):
    standin = standin_factory("--bps", "400")
    source = RpcSource.connect(_settings(standin.url), step_minutes=1.0, tick_spacing=10)
    observations = _take(source, 30)
    bars = _bars(30)
    assert [o.time.strftime("%Y-%m-%d %H:%M:%S") for o in observations] == list(bars["timestamp"])
    assert [o.tick for o in observations] == [int(float(t)) for t in bars["closeTick"]]
    assert [o.amount0_in for o in observations] == [int(v) for v in bars["inAmount0"]]
    assert [o.amount1_in for o in observations] == [int(v) for v in bars["inAmount1"]]
    assert [o.pool_liquidity_raw for o in observations] == [int(v) for v in bars["currentLiquidity"]]
    # the gas price is the block's base fee (2024-01-05's Etherscan average in the stand-in) plus the tip
    assert {o.gas_price_wei for o in observations} == {22_821_996_688 + 100_000_000}
    assert all(o.gap_steps == 0 for o in observations)
    assert set(standin.methods()) <= READ_ONLY            # never a send, sign or account method


def test_rpc__rate_limits_and_slow_replies_are_retried_and_change_nothing(standin_factory):
    calm = standin_factory("--bps", "400")
    reference = _take(RpcSource.connect(_settings(calm.url), 1.0, 10), 12)
    faulty = standin_factory("--bps", "400", "--rate-limit-every", "5", "--slow-every", "23", "--slow-s", "0.8")
    source = RpcSource.connect(_settings(faulty.url, timeout_s=0.4), 1.0, 10)
    retries = []
    source.on_retry = lambda: retries.append(1)
    assert _take(source, 12) == reference
    assert len(retries) >= 10          # one in five requests refused (429), one in 23 past the 0.4 s timeout


def test_rpc__only_confirmed_blocks_are_read(standin_factory):
    standin = standin_factory("--bps", "0", "--head0", str(OPEN_BLOCK + 12))   # head fixed: 00:02:35
    source = RpcSource.connect(_settings(standin.url, confirmations=3, poll_s=0.05), 1.0, 10)
    got = _take(source, 5, timeout=1.5)
    # confirmed head = head - 3 = 18937390 (00:01:59): minute 00:00 closes (its next block is in 00:01),
    # minute 00:01 does not: its closing block is not confirmed yet
    assert [o.time.strftime("%H:%M") for o in got] == ["00:00"]
    assert got[0].block <= OPEN_BLOCK + 12 - 3


def test_rpc__a_chain_halt_is_a_reported_gap_never_filled(standin_factory):
    standin = standin_factory("--bps", "400", "--halt-after", str(OPEN_BLOCK + 20), "--halt-s", "180")
    observations = _take(RpcSource.connect(_settings(standin.url), 1.0, 10), 8)
    # no block for three minutes after OPEN+20: the minutes without a block get no observation, and the
    # next observation says how many are missing before it
    missing = [int((b.time - a.time).total_seconds() // 60) - 1 for a, b in zip(observations, observations[1:])]
    assert missing == [o.gap_steps for o in observations[1:]]
    assert sum(missing) >= 2 and sorted(missing)[:-1] == [0] * (len(missing) - 1)
    assert observations[0].gap_steps == 0


@pytest.mark.parametrize("case, options, extra, expected", [
    ("wrong chain", ("--chain-id", "137"), (), "reports chain id 137"),
    ("not a v3 pool", (), ("shadow.pool=0x00000000000000000000000000000000000000aa",), "not a Uniswap v3 pool"),
    ("no contract", (), ("shadow.pool=0x00000000000000000000000000000000000000bb",), "no contract"),
])
def test_rpc__bad_endpoint_or_pool_is_one_line_exit_2_nothing_written(standin_factory, tmp_path, case, options,
                                                                      extra, expected):
    standin = standin_factory("--bps", "400", *options)
    state = tmp_path / "state"
    result = run_shadow_cli(state, *rpc_overrides(standin.url, *extra))
    assert result.returncode == 2, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "error:" in line]
    assert len(lines) == 1 and expected in lines[0], result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert not state.exists()


def test_rpc__unreachable_endpoint_is_one_line_exit_2(tmp_path):
    state = tmp_path / "state"
    result = run_shadow_cli(state, *rpc_overrides("http://127.0.0.1:9", "shadow.max_retries=1"))
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "unreachable" in output and SECRET not in output
    assert len([line for line in output.splitlines() if "error:" in line]) == 1, output
    assert not state.exists()


def test_rpc__a_shadow_run_keeps_the_key_out_of_logs_decisions_metrics_and_dashboard(standin_factory, tmp_path):
    standin = standin_factory("--bps", "400", "--rate-limit-every", "9")
    state = tmp_path / "state"
    result = run_shadow_cli(state, *rpc_overrides(standin.url, "shadow.max_steps=15",
                                                  "monitoring.dashboard_every_steps=5"))
    assert result.returncode == 0, result.stderr[-2000:]
    records = decisions(state)
    assert [r["step"] for r in records] == list(range(1, 16))
    assert records[0]["time"] == "2024-01-05T00:00:00+00:00" and records[0]["block"] > OPEN_BLOCK
    assert "retry" in result.stdout + result.stderr                # the rate limits were met and retried
    blobs = [result.stdout, result.stderr] + [p.read_bytes().decode("latin-1") for p in state.rglob("*") if p.is_file()]
    hydra_dir = state.parent / (state.name + "_hydra")
    blobs += [p.read_text() for p in hydra_dir.rglob("*.log")]
    assert all(SECRET not in blob for blob in blobs)
    assert set(standin.methods()) <= READ_ONLY


def test_rpc__missing_url_is_an_error_naming_the_key():
    with pytest.raises(RpcError, match="shadow.rpc_url"):
        RpcSource.connect({**_settings("http://x"), "rpc_url": None}, 1.0, 10)
