"""Where the time of one campaign goes, stage by stage, in wall and CPU seconds.

    python bench/breakdown.py -- 'experiment.worlds=[historical]'   # the roadmap's three-way, one world
    python bench/breakdown.py --runs 3 -- n_episodes=200 n_steps=2016
    python bench/breakdown.py --experiment long_run
    python bench/breakdown.py --changed agent.fee_gate_usd=4.0 -- 'experiment.worlds=[historical]'
        # warm runs each with another fee gate: only what depends on it misses its caches

Each run is a fresh `python -m hbbatch +experiment=... -m` process (the first fills JAX's persistent
compile cache, later ones are "warm"). Inside it, the functions that do each stage are wrapped with
timers that count exclusive time (a stage called inside another is not counted twice); compile time is
what JAX reports through `jax.monitoring` (tracing, lowering, XLA compile, cache reads), taken out of
the stage it happened in (wall seconds only: in the CPU table it stays in that stage). CPU seconds
(process time, all threads) are printed beside wall seconds, so other load on a shared machine shows as
wall > CPU. Stages:

- imports: from the interpreter's start until the command line's main() begins (Python, Hydra, JAX, pandas)
- hydra: Hydra's composition of the configs (the sweep's, and each job's: by the sweeper's check, by the
  bounds check before any folder is made, and by the launcher: composed once, copied for the others)
- compile: JAX tracing and compilation on the main thread, wherever it happens (a compile ahead on a worker
  thread, hbbatch.program_cache.prepare, is printed apart: it overlaps the stages; a stage that waits for it
  keeps that wait)
- simulate: the jobs' rollouts and their tables' conversion (hbbatch.campaign.stream.simulate_frames, and
  simulate_counterfactuals for the rule values' re-runs)
- simulate: rule values: the counterfactual rollouts (episodes where an enabled rule fired, re-run without it)
- statistics: summaries, paired comparisons, bootstraps, the convergence table, rule values' comparisons
- world check: the world's validation before it is simulated (its sample and facts; GX time is "validation")
- validation: great-expectations: its import and every suite (calibration gates, world facts, criteria);
  a suite whose exact input GX already validated is read back from the suite result cache (hbbatch.quality)
- calibration: campaign C's calibration report, loaded and gated (GX time is "validation")
- writing: every atomic write (Parquet, JSON)
- report: report.html (figures) and the terminal table
- other: the rest (Hydra's job set-up and logging, manifests, the verdict)
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
STAGES = ("imports", "hydra", "compile", "simulate", "simulate: rule values", "statistics", "world check",
          "validation", "calibration", "writing", "report", "other")
# (module, attribute, stage): the functions each stage's time is spent in. A function is wrapped where it is
# defined and wherever a loaded hbbatch module imported it by name; "Class.method" wraps a method.
WRAPPED = (
    ("hydra._internal.config_loader_impl", "ConfigLoaderImpl.load_configuration", "hydra"),
    ("hbbatch.config.compose", "copied", "hydra"),   # a composition reused (hbbatch.config.compose)
    ("hbbatch.campaign.stream", "simulate_frames", "simulate"),
    ("hbbatch.campaign.stream", "simulate_counterfactuals", "simulate"),   # the rule values' re-runs
    ("hbbatch.campaign.rule_values", "rule_values", "rule values"),   # its simulations: "simulate: rule values"
    ("hbbatch.campaign.stream", "summarize_files", "statistics"),
    ("hbbatch.report.multirun", "compare_variants", "statistics"),
    ("hbbatch.report.multirun", "pool_worlds", "statistics"),
    ("hbbatch.stats", "compare_pair", "statistics"),
    ("hbbatch.campaign.world_check", "check_world", "world check"),
    ("hbbatch.quality", "validate", "validation"),
    ("hbbatch.quality", "import_gx_quietly", "validation"),
    ("hbbatch.criteria", "evaluate", "validation"),
    ("hbbatch.campaign.calibration", "apply_calibration", "calibration"),
    ("hbbatch.report.html", "render_report", "report"),
    ("hbbatch.report.table", "render_table", "report"),
    ("hbbatch.report.table", "print_table", "report"),
    ("hbbatch.io", "atomic_write", "writing"),
    ("hbbatch.tables", "atomic_write", "writing"),
)

WORKER = r"""
import functools, importlib, json, os, resource, sys, time
T0 = float(sys.argv[1])
exclusive = {}; stack = []; main_at = []
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF); return u.ru_utime + u.ru_stime
def _leave(stage, start):
    wall, cpu_ = time.perf_counter() - start[0], time.process_time() - start[1]
    inner = stack.pop()[1:]
    total = exclusive.setdefault(stage, [0.0, 0.0])
    total[0] += wall - inner[0]; total[1] += cpu_ - inner[1]
    if stack:
        stack[-1][1] += wall; stack[-1][2] += cpu_
def _enter(stage):
    if stage == "simulate" and any(frame[0] == "rule values" for frame in stack):
        stage = "simulate: rule values"     # the counterfactual runs of rule_values.parquet
    stack.append([stage, 0.0, 0.0]); return stage, (time.perf_counter(), time.process_time())
def timed(fn, stage):
    if getattr(fn, "_bench_stage", None):
        return fn
    def wrapper(*a, **k):
        name, start = _enter(stage)
        try:
            result = fn(*a, **k)
            if hasattr(result, "__next__"):      # a generator: time each step as the stage's
                return _gen(result, stage)
            return result
        finally:
            _leave(name, start)
    wrapper._bench_stage = stage
    return functools.wraps(fn)(wrapper)
def _gen(gen, stage):
    while True:
        name, start = _enter(stage)
        try:
            item = next(gen)
        except StopIteration:
            return
        finally:
            _leave(name, start)
        yield item
from hbbatch import cli, jax_setup
if hasattr(cli, "prepare_environment"):   # as cli.main does, before NumPy and JAX are imported below
    cli.prepare_environment()
else:   # an older checkout (--root)
    cli._persist_compiled_functions(); jax_setup.configure()
for module, name, stage in json.loads(sys.argv[2]):
    owner, _, attr = name.rpartition(".")
    try:   # an older checkout (--root) may lack one: its time stays in "other"
        m = importlib.import_module(module)
        holder = getattr(m, owner) if owner else m
        original = getattr(holder, attr)
    except (ImportError, AttributeError):
        continue
    setattr(holder, attr, timed(original, stage))
    if not owner:   # also where hbbatch modules imported it by name
        for other in list(sys.modules.values()):
            if getattr(other, "__name__", "").startswith("hbbatch") and getattr(other, attr, None) is original:
                setattr(other, attr, getattr(holder, attr))
compile_s = {}   # wall seconds JAX spent compiling, by the stage it happened in
import threading
def on_duration(event, duration, **kw):
    # only time spent: /jax/core/compile/ (trace, lowering, backend compile incl. a cache read); not
    # /jax/compilation_cache/compile_time_saved_sec, which is time a cache hit saved. A compile on a worker
    # thread (hbbatch.program_cache.prepare) overlaps the main thread's stages: counted apart, taken from none
    if event.startswith("/jax/core/compile/"):
        main = threading.current_thread() is threading.main_thread()
        stage = (stack[-1][0] if stack else "other") if main else "ahead"
        compile_s[stage] = compile_s.get(stage, 0.0) + duration
import jax.monitoring
jax.monitoring.register_event_duration_secs_listener(on_duration)
sys.argv = ["hbbatch"] + sys.argv[3:]
code = 0
main_at = (time.perf_counter() - T0, cpu())
try:
    cli.main()
except SystemExit as exc:
    code = exc.code
end = time.perf_counter()
print("BREAKDOWN " + json.dumps({"exit": code, "wall_s": end - T0, "cpu_s": cpu(), "exclusive": exclusive,
                                 "compile_s": compile_s, "main_at": main_at}))
"""


def run_once(args: argparse.Namespace, out: Path, root: Path, index: int = 0) -> dict:
    changed = [f"{args.changed}{index}"] if args.changed and index else []   # warm, with another input
    overrides = [f"+experiment={args.experiment}", "-m", f"paths.output_dir={out}", *args.overrides, *changed]
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    # perf_counter is system-wide (CLOCK_MONOTONIC): the child measures from the moment we started it
    done = subprocess.run([sys.executable, "-c", WORKER, repr(started), json.dumps(WRAPPED), *overrides], cwd=root,
                          env=env, capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines()[::-1] if l.startswith("BREAKDOWN ")), None)
    if line is None:
        raise RuntimeError(f"run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    record = json.loads(line[len("BREAKDOWN "):])
    result = {"wall_s": record["wall_s"], "cpu_s": record["cpu_s"], "exit": record["exit"]}
    for kind, column, total in (("wall", 0, record["wall_s"]), ("cpu", 1, record["cpu_s"])):
        exclusive = {s: v[column] for s, v in record["exclusive"].items()}
        stages = {s: exclusive.get(s, 0.0) for s in STAGES}
        stages["statistics"] += exclusive.get("rule values", 0.0)   # rule_values' own time: its comparisons
        # JAX reports compile durations in wall seconds only: the CPU table keeps them in their stages
        if kind == "wall":
            for stage, seconds in record["compile_s"].items():
                if stage == "ahead":   # on worker threads: in no stage's wall, printed apart
                    continue
                stage = "statistics" if stage == "rule values" else stage
                if stage in stages and stage != "other":   # "other" is what is left: nothing to take out
                    seconds = min(seconds, stages[stage])
                    stages[stage] -= seconds
                stages["compile"] += seconds
        stages["imports"] = record["main_at"][column]
        result.setdefault("ahead_s", record["compile_s"].get("ahead", 0.0))
        stages["other"] = max(total - sum(v for k, v in stages.items() if k != "other"), 0.0)
        result[kind] = stages
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="three_way")
    parser.add_argument("--runs", type=int, default=2, help="runs in fresh processes; the first is cold")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout to run (another commit's worktree, for a before/after)")
    parser.add_argument("--changed", default="",
                        help="a setting prefix that warm run i ends with i, e.g. agent.fee_gate_usd=4.0 (run 1: "
                             "4.01, run 2: 4.02): caches of unchanged inputs stay warm, the changed ones miss")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides after --, e.g. n_episodes=200")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="hbbench-") as tmp:
        # the first run is cold: caches (JAX's compiled code, the world's validation) start empty, here
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
        for index in range(args.runs):
            # one output folder for every run, as a user repeating a command: each run makes its own time folder
            # in it, and the same overrides find the same kept compositions (hbbatch.config.compose)
            results.append(run_once(args, Path(tmp) / "out", args.root.resolve(), index))
    print(f"{args.experiment} {' '.join(args.overrides)}{' changed: ' + args.changed + '<i>' if args.changed else ''} "
          f"in {args.root.resolve()} "
          f"(1-min load {os.getloadavg()[0]:.1f})")
    header = f"{'stage':<22}" + "".join(f"{('cold' if i == 0 else f'warm {i}'):>10}" for i in range(len(results)))
    for kind, title in (("wall", "wall seconds"), ("cpu", "CPU seconds (simulate includes compile)")):
        print(f"\n{title}\n{header}")
        for stage in STAGES:
            print(f"{stage:<22}" + "".join(f"{r[kind][stage]:>10.2f}" for r in results))
    print(f"{'total wall':<22}" + "".join(f"{r['wall_s']:>10.2f}" for r in results))
    print(f"{'total CPU':<22}" + "".join(f"{r['cpu_s']:>10.2f}" for r in results))
    print(f"{'exit':<22}" + "".join(f"{r['exit']!s:>10}" for r in results))
    print(f"{'compiled ahead':<22}" + "".join(f"{r['ahead_s']:>10.2f}" for r in results))
    print(f"{'compute floor':<22}" + "".join(f"{compute_floor(r):>10.2f}" for r in results))
    print(f"\ncompiled ahead: wall seconds of compiles on worker threads (hbbatch.program_cache.prepare), beside "
          f"the stages, in none of them.\ncompute floor: the wall no run of this work can go under on these "
          f"{os.cpu_count()} cores with this simulator, whatever the rest costs: the imports (one thread, before "
          "anything) plus the simulations' CPU seconds (the compile included) spread over every core; "
          "statistics, validation, writing, report and the rest come on top")
    return 0


def compute_floor(result: dict, cores: int | None = None) -> float:
    """Wall seconds a run cannot go under: its imports (one thread, before any work) plus its simulations' CPU
    seconds (the rollouts and the rule values' re-runs, their compile included) on every core at once."""
    simulated = result["cpu"]["simulate"] + result["cpu"]["simulate: rule values"]
    return result["wall"]["imports"] + simulated / (cores or os.cpu_count() or 1)


if __name__ == "__main__":
    sys.exit(main())
