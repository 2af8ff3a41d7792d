"""The compiled-program cache: the same numbers as jit, no trace or compile on a repeated run, a miss on any change."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

from hbbatch import program_cache
from hbbatch.sim import RolloutSpec, make_params, simulate

SPEC = RolloutSpec(n_episodes=6, n_steps=64)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache on, in a folder of its own, with nothing loaded in this process."""
    monkeypatch.setattr(program_cache, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(program_cache, "_loaded", {})
    return tmp_path


TRACE = "/jax/core/compile/jaxpr_trace_duration"
COMPILE = "/jax/core/compile/backend_compile_duration"   # an XLA compile or a read from JAX's own cache


def _timed(run, event_name):
    """The seconds of each `event_name` JAX reported while `run()` ran, and its result."""
    events = []

    def listener(event, seconds, **_):
        if event == event_name:
            events.append(seconds)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        result = run()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return events, result


def _same(a, b):
    for key in a.episodes:
        np.testing.assert_array_equal(a.episodes[key], b.episodes[key], err_msg=key)
    for key in a.rules:
        np.testing.assert_array_equal(a.rules[key], b.rules[key], err_msg=key)


def test_program_cache__same_numbers_as_jit_and_no_trace_or_compile_when_loaded(cache, monkeypatch):
    params = make_params(market={"gas_usd_median": 4.7})
    monkeypatch.setattr(program_cache, "cache_dir", lambda: None)
    plain = simulate(SPEC, params, 7)
    monkeypatch.setattr(program_cache, "cache_dir", lambda: cache)
    first = simulate(SPEC, params, 7)
    assert len(list(cache.glob("*.pkl"))) == 1
    _same(first, plain)
    program_cache._loaded.clear()   # as a new process: the program comes from the file
    monkeypatch.setattr(program_cache, "_compile", lambda *a: pytest.fail("compiled again"))
    traces, loaded = _timed(lambda: simulate(SPEC, params, 7), TRACE)
    _same(loaded, plain)
    program_cache._loaded.clear()
    compiles, _ = _timed(lambda: simulate(SPEC, params, 7), COMPILE)
    other_seed = simulate(SPEC, params, 8)   # another seed or other numbers: the same program
    assert not np.array_equal(other_seed.episodes["price_end"], plain.episodes["price_end"])
    assert len(traces) <= 8   # small helpers only (transfers, slices): the rollout (hundreds of ms) is not traced
    assert sum(compiles) < 0.1   # nor compiled, nor read from JAX's cache: small helpers only


def test_program_cache__a_new_spec_or_new_source_misses(cache, monkeypatch):
    params = make_params()
    simulate(SPEC, params, 1)
    simulate(RolloutSpec(n_episodes=6, n_steps=32), params, 1)   # another spec
    assert len(list(cache.glob("*.pkl"))) == 2
    program_cache._loaded.clear()
    monkeypatch.setattr(program_cache, "_process_fingerprint", lambda: "edited source")
    simulate(SPEC, params, 1)
    assert len(list(cache.glob("*.pkl"))) == 3


def test_program_cache__a_damaged_file_is_compiled_again_and_replaced(cache):
    params = make_params()
    expected = simulate(SPEC, params, 3)
    (path,) = cache.glob("*.pkl")
    path.write_bytes(b"not a program")
    program_cache._loaded.clear()
    _same(simulate(SPEC, params, 3), expected)
    assert path.read_bytes() != b"not a program"


def test_program_cache__a_write_beyond_the_limit_removes_the_oldest(cache, monkeypatch):
    stale = cache / "stale.pkl"
    stale.write_bytes(b"x")
    os.utime(stale, ns=(0, 0))
    monkeypatch.setattr(program_cache, "MAX_ENTRIES", 1)
    simulate(SPEC, make_params(), seed=1)    # traced and written: the only program kept
    assert [p.name for p in cache.glob("*.pkl")] != ["stale.pkl"] and not stale.exists()
    assert len(list(cache.glob("*.pkl"))) == 1
