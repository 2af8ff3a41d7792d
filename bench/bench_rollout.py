"""Throughput of the full agent: the JAX rollout beside the plain NumPy reference, per batch size.

    python bench/bench_rollout.py [--episodes 1000 10000 100000] [--steps 10080] [--dtype float32]
    python bench/bench_rollout.py --variants [--episodes 10000] [--steps 2016]   # where the time goes

Every measurement runs in a fresh subprocess, so compile caches and peak memory (maxrss) never mix
between sizes. JAX: a first call (compile + run) and a timed second call (another seed); compile time
is the tracing, lowering and XLA compile time JAX reports during the first call (first minus second
call is kept beside it, but at long run times it drowns in run-to-run noise). NumPy: one run; where a
size would exceed --numpy-budget episode-steps, fewer steps are run and the time is extrapolated
linearly to --steps (marked in the table). "per CPU-s" divides by the process's CPU time instead of
wall time: it is what the code costs, whatever else the machine is running (see the load column).
Results go to bench/results/<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Profiling variants: each changes one thing from the full agent (float32, EV gate, online classifier).
VARIANTS = {
    "full agent": {},
    "gating off": {"gating": "off"},
    "oracle classifier": {"classifier": "oracle"},
    "float64": {"dtype": "float64"},
    "record_path on": {"record_path": True},
    "one device": {"devices": 1},
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _cpu_s() -> float:
    """CPU seconds of this process, all threads: unlike wall time, not inflated by other load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _spec_and_params(args):
    from hbbatch.sim import RolloutSpec, make_params

    spec = RolloutSpec(n_episodes=args.episodes[0], n_steps=args.steps, gating=args.gating,
                       classifier=args.classifier, dtype=args.dtype, record_path=args.record_path)
    return spec, make_params(dtype=args.dtype)


def worker_jax(args) -> dict:
    import jax
    import numpy as np

    from hbbatch.sim import rollout

    spec, params = _spec_and_params(args)
    rss_start = _peak_rss_mb()
    compile_events: list[float] = []  # tracing, lowering and XLA compile of every jit the first call needs
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **_: compile_events.append(seconds) if event.startswith("/jax/core/compile/") else None)
    started = time.perf_counter()
    out = jax.block_until_ready(rollout.run(spec, params, args.seed))
    first_s = time.perf_counter() - started
    compile_s = sum(compile_events)
    timings = []  # (wall, cpu) of each timed call; the fastest counts (least disturbed by other load)
    for repeat in range(args.repeats):
        started, cpu_started = time.perf_counter(), _cpu_s()
        out = jax.block_until_ready(rollout.run(spec, params, args.seed + 1 + repeat))
        timings.append((time.perf_counter() - started, _cpu_s() - cpu_started))
    second_s, cpu_s = min(timings)
    metrics = out[0] if isinstance(out, tuple) else out
    devices = len(metrics["fees_usd"].sharding.device_set)
    return {"impl": "jax", "episode_steps_per_s": spec.n_episodes * spec.n_steps / second_s,
            "episode_steps_per_cpu_s": spec.n_episodes * spec.n_steps / cpu_s,
            "run_s": second_s, "first_call_s": first_s, "compile_s": compile_s,
            "first_minus_second_s": first_s - timings[0][0], "timed_calls_s": [wall for wall, _ in timings],
            "devices": devices, "chunk_episodes": getattr(rollout, "CHUNK_EPISODES", None),
            "peak_rss_mb": _peak_rss_mb(), "rss_after_imports_mb": rss_start,
            "mean_pnl_vs_hodl_usd": float(np.mean(np.asarray(metrics["pnl_vs_hodl_usd"], np.float64))),
            "measured_steps": spec.n_steps, "extrapolated": False}


def worker_numpy(args) -> dict:
    import numpy as np

    from bench.numpy_reference import Reference

    spec, params = _spec_and_params(args)
    rss_start = _peak_rss_mb()
    steps = min(spec.n_steps, max(100, int(args.numpy_budget // spec.n_episodes)))
    started, cpu_started = time.perf_counter(), _cpu_s()
    reference = Reference(spec, params, args.seed)
    reference.run(steps)
    run_s, cpu_s = time.perf_counter() - started, _cpu_s() - cpu_started
    result = reference.result()
    return {"impl": "numpy", "episode_steps_per_s": spec.n_episodes * steps / run_s,
            "episode_steps_per_cpu_s": spec.n_episodes * steps / cpu_s,
            "run_s": run_s * spec.n_steps / steps, "first_call_s": None, "compile_s": None,
            "first_minus_second_s": None, "devices": 1,
            "peak_rss_mb": _peak_rss_mb(), "rss_after_imports_mb": rss_start,
            "mean_pnl_vs_hodl_usd": float(np.mean(result.episodes["pnl_vs_hodl_usd"], dtype=np.float64)),
            "measured_steps": steps, "extrapolated": steps < spec.n_steps}


def _measure(impl: str, episodes: int, steps: int, args, overrides: dict) -> dict:
    """One measurement in a fresh interpreter; returns its JSON record."""
    options = {"dtype": args.dtype, "gating": "ev", "classifier": "online", "record_path": False, **overrides}
    command = [sys.executable, __file__, "--worker", impl, "--episodes", str(episodes), "--steps", str(steps),
               "--dtype", options["dtype"], "--gating", options["gating"], "--classifier", options["classifier"],
               "--seed", str(args.seed), "--numpy-budget", str(args.numpy_budget), "--repeats", str(args.repeats)]
    if options["record_path"]:
        command.append("--record-path")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    if "devices" in options:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={options['devices']}"
    from hbbatch import jax_setup
    jax_setup.configure(env)   # as the CLI does: one device per core (unless set above)
    load_before = os.getloadavg()[0]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{impl} worker failed at {episodes} episodes:\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record.update(episodes=episodes, steps=steps, load_avg_1min_before=load_before, **options)
    return record


HEADER = (f"{'variant':<18} {'impl':<5} {'episodes':>9} {'steps':>6} {'dtype':<7} {'dev':>3} {'M ep-steps/s':>12} "
          f"{'per CPU-s':>9} {'run s':>8} {'compile s':>9} {'peak MB':>8} {'load':>5}  note")


def _row(r: dict) -> str:
    note = f"extrapolated from {r['measured_steps']} steps" if r["extrapolated"] else ""
    if r.get("speedup_vs_numpy"):
        note = f"{r['speedup_vs_numpy']:.1f}x NumPy " + note
    compile_s = "" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
    return (f"{r.get('variant', ''):<18} {r['impl']:<5} {r['episodes']:>9} {r['steps']:>6} {r['dtype']:<7} "
            f"{r['devices']:>3} {r['episode_steps_per_s'] / 1e6:>12.2f} {r['episode_steps_per_cpu_s'] / 1e6:>9.2f} "
            f"{r['run_s']:>8.1f} {compile_s:>9} {r['peak_rss_mb']:>8.0f} {r['load_avg_1min_before']:>5.1f}  {note}")


def _table(records: list[dict], title: str) -> str:
    return "\n".join([title, HEADER, "-" * len(HEADER)] + [_row(r) for r in records])


def _code_version() -> dict:
    def git(*argv):
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else None
    return {"git_commit": git("rev-parse", "HEAD"), "sim_uncommitted_changes": bool(git("status", "--porcelain", "hbbatch/sim"))}


def _write(payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / time.strftime("rollout_%Y-%m-%d_%H-%M-%S.json")
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(payload, indent=2))
    os.replace(partial, path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help="one-minute steps (default 10080, a week)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--numpy-budget", type=float, default=1e8,
                        help="most episode-steps NumPy runs per size; beyond it, extrapolate")
    parser.add_argument("--repeats", type=int, default=1, help="timed JAX calls per size; the fastest counts")
    parser.add_argument("--no-numpy", action="store_true", help="skip the NumPy reference")
    parser.add_argument("--variants", action="store_true", help="time one size with one thing changed at a time")
    parser.add_argument("--worker", choices=("jax", "numpy"), help=argparse.SUPPRESS)
    parser.add_argument("--gating", default="ev", help=argparse.SUPPRESS)
    parser.add_argument("--classifier", default="online", help=argparse.SUPPRESS)
    parser.add_argument("--record-path", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps((worker_jax if args.worker == "jax" else worker_numpy)(args)))
        return 0

    records = []
    print(HEADER, flush=True)
    if args.variants:
        episodes, steps = (args.episodes or [10_000])[0], args.steps or 2016
        for name, overrides in VARIANTS.items():
            records.append({"variant": name, **_measure("jax", episodes, steps, args, overrides)})
            print(_row(records[-1]), flush=True)
        title = f"Variants at {episodes} episodes x {steps} steps ({args.dtype} unless named)"
    else:
        steps = args.steps or 10_080
        for episodes in args.episodes or [1_000, 10_000, 100_000]:
            jax_record = _measure("jax", episodes, steps, args, {})
            records.append(jax_record)
            print(_row(jax_record), flush=True)
            if not args.no_numpy:
                numpy_record = _measure("numpy", episodes, steps, args, {})
                jax_record["speedup_vs_numpy"] = jax_record["episode_steps_per_s"] / numpy_record["episode_steps_per_s"]
                records.append(numpy_record)
                print(_row(numpy_record), flush=True)
        title = f"Full agent, {steps} one-minute steps"
    payload = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.machine(), **_code_version(),
               "cpu_count": os.cpu_count(), "python": platform.python_version(), "argv": sys.argv[1:],
               "records": records}
    print()
    print(_table(records, title))
    print(f"\nwritten {_write(payload).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
