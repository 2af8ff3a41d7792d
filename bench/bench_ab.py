"""Interleaved A/B throughput of the rollout: this checkout against another git revision, same minute.

    python bench/bench_ab.py                                   # main vs this checkout, 2,000 x 10,080
    python bench/bench_ab.py --base HEAD~1 --episodes 10000 --pairs 2
    python bench/bench_ab.py --base main --world historical    # the historical world (embedded bars)

On a shared machine a figure measured ten minutes before another means little, so the two builds run
alternately (base, new, base, new, ...), each in a fresh interpreter: one call to compile and run, then
`--repeats` timed calls with new seeds, the fastest counting. Both figures are printed: episode-steps
per wall second and per CPU-second (process user + system time, all threads: what the code costs
whatever else the machine runs). The base revision is checked out with `git worktree add --detach`
into a temporary folder and removed afterwards.

Each worker also prints a digest of its first call's per-episode metrics (seed `--seed`): the integer
columns (actions, widens, stops, classified steps, rule fires and actions) and the float columns
separately, so "decisions unchanged" and "bit-identical" can be read off the same table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_s() -> float:
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _digest(out: dict) -> tuple[str, str]:
    import numpy as np
    ints, floats = hashlib.sha256(), hashlib.sha256()
    for name in sorted(out):
        value = np.asarray(out[name])
        (ints if value.dtype.kind in "biu" or name in ("actions", "widens", "emergency_stops")
         or name.startswith(("steps_classified", "rule_fires", "rule_actions")) else floats).update(
            name.encode() + value.tobytes())
    return ints.hexdigest()[:12], floats.hexdigest()[:12]


def worker(args) -> dict:
    from hbbatch import jax_setup
    jax_setup.configure()   # as the CLI does (the tree under test's own settings)
    import jax

    from hbbatch.sim import RolloutSpec, make_params, rollout

    params = make_params(dtype=args.dtype)
    n_episodes = args.episodes
    if args.world != "regimes":
        from hydra import compose, initialize_config_dir

        from hbbatch.config import CONF_DIR, register_configs
        from hbbatch.worlds.build import world_params
        register_configs()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            world = compose("config", overrides=[f"world={args.world}"]).world
        built = world_params(dict(world), {"step_minutes": 1.0}, {}, args.steps, args.episodes)
        params, n_episodes = params._replace(world=built.params), built.n_episodes
    spec = RolloutSpec(n_episodes=n_episodes, n_steps=args.steps, gating=args.gating, dtype=args.dtype)
    started = time.perf_counter()
    metrics, _ = jax.block_until_ready(rollout.run(spec, params, args.seed))
    first_s = time.perf_counter() - started
    decisions, money = _digest(jax.device_get(metrics))
    timings = []
    for repeat in range(args.repeats):
        started, cpu_started = time.perf_counter(), _cpu_s()
        jax.block_until_ready(rollout.run(spec, params, args.seed + 1 + repeat))
        timings.append((time.perf_counter() - started, _cpu_s() - cpu_started))
    wall, cpu = min(timings, key=lambda timing: timing[1])
    steps = spec.n_episodes * spec.n_steps
    return {"per_s": steps / wall, "per_cpu_s": steps / cpu, "first_call_s": first_s,
            "decisions": decisions, "money": money}


def _run(tree: Path, args) -> dict:
    command = [sys.executable, str(ROOT / "bench" / "bench_ab.py"), "--worker", "--episodes", str(args.episodes),
               "--steps", str(args.steps), "--dtype", args.dtype, "--gating", args.gating, "--seed", str(args.seed),
               "--repeats", str(args.repeats), "--world", args.world]
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("XLA_FLAGS", None)
    load = os.getloadavg()[0]
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker in {tree} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="main", help="git revision to compare against (default main)")
    parser.add_argument("--new", default=None, help="git revision to measure (default: this checkout as it is)")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=10_080)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--gating", default="ev", choices=("ev", "off"))
    parser.add_argument("--world", default="regimes", help="world config name (regimes: the parametric world)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=3, help="base/new pairs, interleaved")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per process; the fastest counts")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench_ab_") as scratch:
        trees = {"base": args.base} if args.new is None else {"base": args.base, "new": args.new}
        for name, revision in trees.items():
            subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(Path(scratch) / name), revision],
                           cwd=ROOT, check=True)
        base_tree, new_tree = Path(scratch) / "base", ROOT if args.new is None else Path(scratch) / "new"
        try:
            rows = {"base": [], "new": []}
            print(f"{args.episodes} x {args.steps} {args.dtype}, world {args.world}, gating {args.gating}: "
                  f"base {args.base} vs {args.new or 'this checkout'}")
            print(f"{'build':<5} {'M/s wall':>9} {'M/CPU-s':>8} {'load':>5}  decisions    money")
            for _ in range(args.pairs):
                for name, tree in (("base", base_tree), ("new", new_tree)):
                    row = _run(tree, args)
                    rows[name].append(row)
                    print(f"{name:<5} {row['per_s'] / 1e6:>9.2f} {row['per_cpu_s'] / 1e6:>8.2f} {row['load']:>5.1f}  "
                          f"{row['decisions']} {row['money']}", flush=True)
        finally:
            for name in trees:
                subprocess.run(["git", "worktree", "remove", "--force", str(Path(scratch) / name)], cwd=ROOT,
                               check=False)
    base = statistics.median(r["per_cpu_s"] for r in rows["base"])
    new = statistics.median(r["per_cpu_s"] for r in rows["new"])
    same = {key: len({r[key] for r in rows["base"] + rows["new"]}) == 1 for key in ("decisions", "money")}
    print(f"median M episode-steps per CPU-s: base {base / 1e6:.2f}, new {new / 1e6:.2f} ({new / base - 1:+.1%}); "
          f"per wall-s: base {statistics.median(r['per_s'] for r in rows['base']) / 1e6:.2f}, "
          f"new {statistics.median(r['per_s'] for r in rows['new']) / 1e6:.2f}")
    print(f"decisions identical: {same['decisions']}; metrics bit-identical: {same['money']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
