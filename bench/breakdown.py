"""Where the wall time of one campaign goes: start-up, compile, simulate, statistics, validation, report, writing.

    python bench/breakdown.py                                  # the roadmap's three-way, 3 x 1,000 x 10,080
    python bench/breakdown.py --runs 3 -- n_episodes=200 n_steps=2016
    python bench/breakdown.py --experiment long_run

Each run is a fresh `python -m hbbatch +experiment=... -m` process (the first fills JAX's persistent
compile cache, later ones are "warm"). Inside it, the functions that do each stage are wrapped with
timers that count exclusive time (a stage called inside another is not counted twice); compile time is
what JAX reports through `jax.monitoring` (tracing, lowering, XLA compile, cache reads), taken out of
the stage it happened in. CPU seconds (process time, all threads) are printed beside wall seconds, so
other load on a shared machine shows as wall > CPU. Stage names:

- start-up: from the interpreter's start until the first job begins (imports, Hydra's composition, checks)
- compile: JAX tracing and compilation, wherever it happens
- simulate: the rollout and the tables' conversion (hbbatch.campaign.stream.simulate_frames)
- statistics: summaries, paired comparisons, bootstraps, the convergence table
- validation: great-expectations suites (criteria, world validation)
- report: report.html (figures) and the terminal table
- writing: every atomic write (Parquet, JSON)
- other: the rest (Hydra's job set-up, the calibration, the verdict)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("start-up", "compile", "simulate", "statistics", "validation", "report", "writing", "other")
# (module, attribute, stage): the functions each stage's time is spent in
WRAPPED = (
    ("hbbatch.campaign.stream", "simulate_frames", "simulate"),
    ("hbbatch.campaign.stream", "summarize_files", "statistics"),
    ("hbbatch.report.multirun", "compare_variants", "statistics"),
    ("hbbatch.report.multirun", "pool_worlds", "statistics"),
    ("hbbatch.quality", "validate", "validation"),
    ("hbbatch.criteria", "evaluate", "validation"),
    ("hbbatch.report.html", "render_report", "report"),
    ("hbbatch.report.table", "render_table", "report"),
    ("hbbatch.report.table", "print_table", "report"),
    ("hbbatch.io", "atomic_write", "writing"),
    ("hbbatch.tables", "atomic_write", "writing"),
)

WORKER = r'''
import functools, importlib, json, os, resource, sys, time
T0 = float(sys.argv[1]); CPU0 = 0.0
exclusive = {}; stack = []; first_job = []
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF); return u.ru_utime + u.ru_stime
def _enter():
    stack.append([0.0, 0.0]); return time.perf_counter(), time.process_time()
def _leave(stage, start):
    wall, cpu_ = time.perf_counter() - start[0], time.process_time() - start[1]
    inner = stack.pop()
    total = exclusive.setdefault(stage, [0.0, 0.0])
    total[0] += wall - inner[0]; total[1] += cpu_ - inner[1]
    if stack:
        stack[-1][0] += wall; stack[-1][1] += cpu_
def timed(fn, stage):
    if getattr(fn, "_bench_stage", None):
        return fn
    def wrapper(*a, **k):
        if stage == "simulate" and not first_job:
            first_job.append((time.perf_counter(), time.process_time()))
        start = _enter()
        try:
            result = fn(*a, **k)
            if hasattr(result, "__next__"):      # a generator: time each step as the stage's
                return _gen(result, stage)
            return result
        finally:
            _leave(stage, start)
    wrapper._bench_stage = stage
    return functools.wraps(fn)(wrapper)
def _gen(gen, stage):
    while True:
        start = _enter()
        try:
            item = next(gen)
        except StopIteration:
            return
        finally:
            _leave(stage, start)
        yield item
from hbbatch import cli, jax_setup
cli._persist_compiled_functions(); jax_setup.configure()   # as cli.main does, before JAX is imported below
for module, name, stage in json.loads(sys.argv[2]):
    try:
        m = importlib.import_module(module)
        if hasattr(m, name):
            setattr(m, name, timed(getattr(m, name), stage))
    except Exception:
        pass
compile_s = [0.0]
def on_duration(event, duration, **kw):
    if event.startswith("/jax/") and ("compile" in event or "tracing" in event or "lowering" in event):
        compile_s[0] += duration
import jax.monitoring
jax.monitoring.register_event_duration_secs_listener(on_duration)
sys.argv = ["hbbatch"] + sys.argv[3:]
code = 0
try:
    cli.main()
except SystemExit as exc:
    code = exc.code
end = time.perf_counter()
print("BREAKDOWN " + json.dumps({"exit": code, "wall_s": end - T0, "cpu_s": cpu(), "exclusive": exclusive,
                                 "compile_s": compile_s[0], "first_job_at": (first_job[0][0] - T0) if first_job else None,
                                 "first_job_cpu": first_job[0][1] if first_job else None}))
'''


def run_once(args: argparse.Namespace, out: Path) -> dict:
    overrides = [f"+experiment={args.experiment}", "-m", f"paths.output_dir={out}", *args.overrides]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    # perf_counter is system-wide (CLOCK_MONOTONIC): the child measures from the moment we started it
    done = subprocess.run([sys.executable, "-c", WORKER, repr(started), json.dumps(WRAPPED), *overrides], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines()[::-1] if l.startswith("BREAKDOWN ")), None)
    if line is None:
        raise RuntimeError(f"run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    record = json.loads(line[len("BREAKDOWN "):])
    result = {"wall_s": record["wall_s"], "cpu_s": record["cpu_s"], "exit": record["exit"]}
    for kind, column, first, total in (("wall", 0, record["first_job_at"], record["wall_s"]),
                                       ("cpu", 1, record["first_job_cpu"], record["cpu_s"])):
        stages = {s: record["exclusive"].get(s, [0.0, 0.0])[column] for s in STAGES}
        # JAX reports compile durations in wall seconds only: the CPU table keeps compile inside simulate
        stages["compile"] = record["compile_s"] if kind == "wall" else 0.0
        stages["simulate"] = max(stages["simulate"] - stages["compile"], 0.0)
        stages["start-up"] = first or 0.0
        stages["other"] = max(total - sum(v for k, v in stages.items() if k != "other"), 0.0)
        result[kind] = stages
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="three_way")
    parser.add_argument("--runs", type=int, default=2, help="runs in fresh processes; the first is cold")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides after --, e.g. n_episodes=200")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="hbbench-") as tmp:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(tmp) / "jax-cache"))
        for index in range(args.runs):
            results.append(run_once(args, Path(tmp) / f"run{index}"))
    print(f"{args.experiment} {' '.join(args.overrides)} (1-min load {os.getloadavg()[0]:.1f})")
    header = f"{'stage':<12}" + "".join(f"{('cold' if i == 0 else f'warm {i}'):>10}" for i in range(len(results)))
    for kind, title in (("wall", "wall seconds"), ("cpu", "CPU seconds (simulate includes compile)")):
        print(f"\n{title}\n{header}")
        for stage in STAGES:
            print(f"{stage:<12}" + "".join(f"{r[kind][stage]:>10.2f}" for r in results))
    print(f"{'total wall':<12}" + "".join(f"{r['wall_s']:>10.2f}" for r in results))
    print(f"{'total CPU':<12}" + "".join(f"{r['cpu_s']:>10.2f}" for r in results))
    print(f"{'exit':<12}" + "".join(f"{r['exit']!s:>10}" for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
