"""The program cache: the same numbers as tracing, no trace on a repeated run, a miss on any change."""

from __future__ import annotations

import os
import threading

import jax
import numpy as np
import pytest

from hbbatch import program_cache
from hbbatch.sim import RolloutSpec, make_params, rollout, simulate

SPEC = RolloutSpec(n_episodes=6, n_steps=64)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache on, in a folder of its own, with nothing loaded in this process."""
    monkeypatch.setattr(program_cache, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(program_cache, "_loaded", {})
    return tmp_path


def _traces(run):
    """How many programs JAX traced while `run()` ran, and its result."""
    events = []

    def listener(event, seconds, **_):
        if event == "/jax/core/compile/jaxpr_trace_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        result = run()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return len(events), result


def _same(a, b):
    for key in a.episodes:
        np.testing.assert_array_equal(a.episodes[key], b.episodes[key], err_msg=key)
    for key in a.rules:
        np.testing.assert_array_equal(a.rules[key], b.rules[key], err_msg=key)


def test_program_cache__same_numbers_as_tracing_and_no_trace_when_loaded(cache, monkeypatch):
    params = make_params(market={"gas_usd_median": 4.7})
    monkeypatch.setattr(program_cache, "cache_dir", lambda: None)
    plain = simulate(SPEC, params, 7)
    monkeypatch.setattr(program_cache, "cache_dir", lambda: cache)
    first = simulate(SPEC, params, 7)
    assert len(list(cache.glob("*.pkl"))) == 1
    _same(first, plain)
    program_cache._loaded.clear()   # as a new process: the program comes from the file
    monkeypatch.setattr(program_cache, "_export", lambda *a: pytest.fail("traced again"))
    n_traces, loaded = _traces(lambda: simulate(SPEC, params, 7))
    _same(loaded, plain)
    other_seed = simulate(SPEC, params, 8)   # another seed or other numbers: the same program
    assert not np.array_equal(other_seed.episodes["price_end"], plain.episodes["price_end"])
    assert n_traces <= 8   # small helpers only (transfers, slices): the rollout (hundreds of ms) is not traced


def test_program_cache__a_new_spec_or_new_source_misses(cache, monkeypatch):
    params = make_params()
    simulate(SPEC, params, 1)
    simulate(RolloutSpec(n_episodes=6, n_steps=32), params, 1)   # another spec
    assert len(list(cache.glob("*.pkl"))) == 2
    program_cache._loaded.clear()
    monkeypatch.setattr(program_cache, "_process_fingerprint", lambda: "edited source")
    simulate(SPEC, params, 1)
    assert len(list(cache.glob("*.pkl"))) == 3


def test_program_cache__a_damaged_file_is_traced_again_and_replaced(cache):
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


RUN = """
import sys
import jax
jax.config.update("jax_compilation_cache_dir", sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
from hbbatch import program_cache
from hbbatch.sim import RolloutSpec, make_params, simulate
program_cache._process_fingerprint = lambda: sys.argv[2]   # as after an edit of any hbbatch source file
print(repr(simulate(RolloutSpec(n_episodes=6, n_steps=64), make_params(), 7).episodes["net_pnl_usd"].tolist()))
"""


def test_program_cache__an_edit_then_two_runs_with_jaxs_cache_on_give_the_same_numbers(tmp_path):
    # the edit misses this cache while JAX's own still holds the compiled program: the entry written then
    # must load and run in the next process (a kept executable did not: "Function ... not found")
    import subprocess
    import sys

    def run(fingerprint):
        done = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "jax"), fingerprint], capture_output=True,
                              text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1]

    first = run("before the edit")
    assert run("after the edit") == first   # this cache misses, JAX's hits
    assert run("after the edit") == first   # this cache hits: the entry written by the run before
    assert len(list((tmp_path / "jax" / program_cache.FOLDER).glob("*.pkl"))) == 2


def _compiles(run):
    """(thread, function) of each program XLA compiled while `run()` ran, and its result."""
    threads = []

    def listener(event, seconds, fun_name="", **_):
        if event == "/jax/core/compile/backend_compile_duration":
            threads.append((threading.current_thread().name, fun_name))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        result = run()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return threads, result


@pytest.mark.parametrize("folder", ["on", "off"])
def test_program_cache__a_program_compiled_ahead_is_the_one_the_run_uses(cache, monkeypatch, folder):
    """`compile_ahead` compiles the batch on a worker thread; the first run of the spec (other episodes and
    seed: the same form) then compiles nothing itself and gives the numbers of an ordinary run. With the
    traced-program folder and without it."""
    monkeypatch.setattr(program_cache, "_ahead", {})
    if folder == "off":
        monkeypatch.setattr(program_cache, "cache_dir", lambda: None)
    spec = RolloutSpec(n_episodes=5, n_steps=48)   # a form no other test compiles
    params = make_params(market={"gas_usd_median": 3.1})
    compiles, result = _compiles(lambda: (rollout.compile_ahead(spec, params, 1), simulate(spec, params, 9, 20))[1])
    ahead = [name for thread, name in compiles if thread.startswith("hbbatch-compile")]
    assert len(ahead) == 1, compiles   # the batch, on the worker; JAX's own small helpers on this thread
    assert ahead[0] not in [name for thread, name in compiles if not thread.startswith("hbbatch-compile")]
    monkeypatch.setattr(program_cache, "_ahead", {})
    rollout.compiled_batch.cache_clear()
    program_cache._loaded.clear()
    _same(result, simulate(spec, params, 9, 20))   # compiled on this thread, as without compile_ahead


def test_program_cache__a_compile_ahead_that_fails_leaves_the_call_to_compile(cache, monkeypatch):
    monkeypatch.setattr(program_cache, "_ahead", {})

    def broken(*args, **kwargs):
        raise RuntimeError("no program")

    monkeypatch.setattr(program_cache, "_compile", broken)
    spec, params = RolloutSpec(n_episodes=4, n_steps=48), make_params()
    rollout.compile_ahead(spec, params, 1)
    compiles, result = _compiles(lambda: simulate(spec, params, 2))
    assert compiles and not any(thread.startswith("hbbatch-compile") for thread, _ in compiles)
    assert np.isfinite(result.episodes["net_pnl_usd"]).all() and not program_cache._ahead
