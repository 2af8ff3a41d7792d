"""Throughput of each world at one batch size: the parametric regime model beside the historical worlds.

    python bench/bench_worlds.py [--episodes 10000] [--steps 10080] [--worlds regimes historical ...]
                                 [--warmup-minutes 0 1440]   # each world at each warm-up (agent.warmup_minutes)

Same method as bench_rollout.py: each world in a fresh subprocess, one call to compile and run, then
`--repeats` timed calls with new seeds (the fastest counts); "per CPU-s" divides by process CPU time,
so the figure holds on a shared machine. Building the world's host arrays (reading the embedded
history) is timed apart as `build_s`. Results go to bench/results/worlds-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
from bench.bench_rollout import _cpu_s  # noqa: E402


def worker(args) -> dict:
    import jax
    from hydra import compose, initialize_config_dir

    from hbbatch.config import CONF_DIR, register_configs
    from hbbatch.sim import RolloutSpec, make_params, rollout
    from hbbatch.worlds.build import world_params

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        world = compose("config", overrides=[f"world={args.world}"]).world
    started = time.perf_counter()
    built = world_params(dict(world), {"step_minutes": args.step_minutes}, {}, args.steps, args.episodes)
    build_s = time.perf_counter() - started
    spec = RolloutSpec(n_episodes=built.n_episodes, n_steps=args.steps,
                       warmup_steps=round(args.warmup_minutes / args.step_minutes))
    params = make_params(market={"step_minutes": args.step_minutes})._replace(world=built.params)
    started = time.perf_counter()
    jax.block_until_ready(rollout.run(spec, params, 1))
    first_s = time.perf_counter() - started
    timings = []
    for repeat in range(args.repeats):
        started, cpu_started = time.perf_counter(), _cpu_s()
        jax.block_until_ready(rollout.run(spec, params, 2 + repeat))
        timings.append((time.perf_counter() - started, _cpu_s() - cpu_started))
    wall, cpu = min(timings)
    steps = spec.n_episodes * spec.n_steps
    return {"world": args.world, "warmup_minutes": args.warmup_minutes, "episodes": spec.n_episodes,
            "steps": spec.n_steps, "step_minutes": args.step_minutes,
            "bar_minutes": built.info.get("bar_minutes"), "episode_steps_per_s": steps / wall,
            "episode_steps_per_cpu_s": steps / cpu, "run_s": wall, "first_call_s": first_s, "build_s": build_s,
            "load_avg_1min_before": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=10_080)
    parser.add_argument("--step-minutes", type=float, default=1.0)
    parser.add_argument("--worlds", nargs="+", default=["regimes", "historical"])
    parser.add_argument("--warmup-minutes", type=float, nargs="+", default=[0.0],
                        help="warm-up before each episode (episode-steps count the episode's steps only)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", default=None)
    args = parser.parse_args()
    if args.worker:
        args.world, args.warmup_minutes = args.worker, args.warmup_minutes[0]
        print(json.dumps(worker(args)))
        return
    from hbbatch import jax_setup

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    jax_setup.configure(env)
    records = []
    print(f"{'world':<20} {'warm-up':>7} {'episodes':>9} {'steps':>6} {'bars':>5} {'M ep-steps/s':>12} "
          f"{'per CPU-s':>9} {'run s':>7} {'build s':>7} {'load':>5}")
    for world, warmup in ((w, m) for w in args.worlds for m in args.warmup_minutes):
        command = [sys.executable, __file__, "--worker", world, "--episodes", str(args.episodes), "--steps",
                   str(args.steps), "--step-minutes", str(args.step_minutes), "--repeats", str(args.repeats),
                   "--warmup-minutes", str(warmup)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{world} failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        records.append(r)
        print(f"{r['world']:<20} {r['warmup_minutes']:>7g} {r['episodes']:>9,} {r['steps']:>6} "
              f"{str(r['bar_minutes'] or '-'):>5} {r['episode_steps_per_s'] / 1e6:>12.2f} "
              f"{r['episode_steps_per_cpu_s'] / 1e6:>9.2f} {r['run_s']:>7.1f} "
              f"{r['build_s']:>7.1f} {r['load_avg_1min_before']:>5.1f}")
    for warmup in args.warmup_minutes:
        base = next((r for r in records if r["world"] == "regimes" and r["warmup_minutes"] == warmup), None)
        for r in records:
            if base and r is not base and r["warmup_minutes"] == warmup:
                print(f"{r['world']}: {r['episode_steps_per_cpu_s'] / base['episode_steps_per_cpu_s']:.2f}x the "
                      f"parametric world's episode-steps per CPU-s (warm-up {warmup:g} min)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"worlds-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(records, indent=2))


if __name__ == "__main__":
    main()
