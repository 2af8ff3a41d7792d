"""What world validation adds to a campaign run, and where its time goes.

    python bench/world_validation.py                          # the default three-way (4 worlds x A/B/C, 1,000 x 10,080)
    python bench/world_validation.py --runs 2 -- n_episodes=200
    python bench/world_validation.py --off                    # also a run with world.validate=false beside it

Each run is a fresh `python -m hbbatch +experiment=... -m` process (bench/breakdown.py's worker) with an
empty world-validation cache, so every distinct world is validated once in it; JAX's persistent compile
cache is the user's (warm after the first run, as on a user's machine). The functions that make up the
check are wrapped with timers counting exclusive time:

- wv sample:   the world's sample (building its paths and simulating them: compile or cache read included)
- wv facts:    the stylised facts of the sample
- wv real:     the embedded history's facts (once per process)
- wv suite:    the great-expectations check of the facts (suite, context, batch, validation)
- wv GX import: importing great_expectations, which the first check pays (the success criteria need it
               later in the same run: with validation off they pay it instead)
- wv reuse:    the rest of the check: hashing the world's key, reading and writing the stored results

The share is the check's inclusive time over the whole run (wall and CPU seconds of the process).
With --off a run with world.validate=false follows each, and the difference of totals is printed too
(it carries the machine's noise: other processes share it).

    python bench/world_validation.py --power                  # what the check's sample can tell apart

--power: the check's size and power at its sample (world.validation.n_episodes x n_weeks). Size: the share
of 400 samples of real two-week windows (2020-01 ->, the validation's history) that fail any fact. Power: per
fact, the smallest error of a world's true value that the check rejects with 95 % probability (its
tolerance plus 1.645 of the fact's own sampling spread at this sample size, in the tolerance's units), and
the rejection rate of worlds known to be wrong (the historical world with short bootstrap blocks, which
lose the week-long volatility memory) over --seeds seeds.
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
sys.path.insert(0, str(ROOT))
from bench.breakdown import WORKER  # noqa: E402  (the same timing worker as the stage breakdown)

STAGES = ("wv sample", "wv facts", "wv real", "wv suite", "wv GX import", "wv reuse")
WRAPPED = (
    ("hbbatch.campaign.job", "check_world", "wv reuse"),
    ("hbbatch.campaign.world_check", "_validate", "wv reuse"),
    ("hbbatch.worlds.validation", "sample_paths", "wv sample"),
    ("hbbatch.campaign.world_check", "sample_world", "wv sample"),
    ("hbbatch.worlds.validation", "stylised_facts", "wv facts"),
    ("hbbatch.worlds.reference", "embedded_history_facts", "wv real"),
    ("hbbatch.campaign.world_check", "embedded_history_facts", "wv real"),
    ("hbbatch.worlds.validation", "check_facts", "wv suite"),
    ("hbbatch.quality", "import_gx_quietly", "wv GX import"),
)


def run_once(experiment: str, overrides: list[str], tmp: Path, validate: bool) -> dict:
    args = [f"+experiment={experiment}", "-m", f"paths.output_dir={tmp / 'out'}",
            f"world.validation.cache_dir={tmp / 'cache'}", f"world.validate={str(validate).lower()}", *overrides]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WORKER, repr(started), json.dumps(WRAPPED), *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines()[::-1] if l.startswith("BREAKDOWN ")), None)
    if line is None:
        raise RuntimeError(f"run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    record = json.loads(line[len("BREAKDOWN "):])
    stages = {s: record["exclusive"].get(s, [0.0, 0.0]) for s in STAGES}
    return {"wall_s": record["wall_s"], "cpu_s": record["cpu_s"], "exit": record["exit"], "stages": stages,
            "check": [sum(v[i] for v in stages.values()) for i in (0, 1)]}


def power(seeds: int) -> None:
    import numpy as np

    from dataclasses import asdict
    from hbbatch.config.world_validation import WorldValidationConf
    from hbbatch.worlds.facts import MarketPaths, stylised_facts
    from hbbatch.worlds.reference import embedded_history_facts, embedded_history_paths
    from hbbatch.worlds.validation import allowed_range, tolerance_group

    from hbbatch.config.world import WorldConf
    conf = {**asdict(WorldValidationConf()), "history_start": WorldConf().history_start}   # the default world's window
    real = embedded_history_facts(787_760.0, conf["history_start"], conf["history_end"])
    full = embedded_history_paths(787_760.0, conf["history_start"], conf["history_end"])
    hours, n_days = 168 * conf["n_weeks"], (full.close_usd.shape[1] - 1) // 24
    rng, draws = np.random.default_rng(2024), []
    for _ in range(400):
        starts = rng.integers(0, n_days - 7 * conf["n_weeks"], conf["n_episodes"]) * 24
        cut = lambda a: np.stack([a[0, s: s + hours] for s in starts])   # noqa: E731
        draws.append(stylised_facts(MarketPaths(60.0, np.stack([full.close_usd[0, s: s + hours + 1] for s in starts]),
                                                cut(full.high_usd), cut(full.low_usd), cut(full.volume_usd),
                                                cut(full.gas_usd), cut(full.pool_liquidity))))
    facts = [f for f in real if np.isfinite(real[f])]
    tolerances = conf["tolerances"]
    ranges = {f: allowed_range(real[f], tolerances[tolerance_group(f, tolerances)], f) for f in facts}
    failed = sum(any(not lo <= d[f] <= hi for f, (lo, hi) in ranges.items()) for d in draws)
    print(f"sample: {conf['n_episodes']} episodes x {conf['n_weeks']} weeks; size: {failed} of 400 real samples "
          f"fail any fact ({100 * failed / 400:.2f} %)")
    print(f"\n{'fact':<28}{'real':>10}{'tolerance':>12}{'spread':>10}{'95 % power at':>16}")
    for f in facts:
        tol = tolerances[tolerance_group(f, tolerances)]
        values = np.array([d[f] for d in draws])
        if tol.get("abs") is not None:
            spread = float(np.std(values))
            print(f"{f:<28}{real[f]:>10.4g}{'±' + format(tol['abs'], '.3g'):>12}{spread:>10.3g}"
                  f"{'±' + format(tol['abs'] + 1.645 * spread, '.3g'):>16}")
        else:
            spread = float(np.std(np.log(values)))
            print(f"{f:<28}{real[f]:>10.4g}{'x' + format(tol['factor'], '.3g'):>12}{'x' + format(np.exp(spread), '.3g'):>10}"
                  f"{'x' + format(tol['factor'] * np.exp(1.645 * spread), '.3g'):>16}")
    sys.path.insert(0, str(ROOT))
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from hbbatch.campaign.world_check import _validate
    from hbbatch.config import CONF_DIR, register_configs

    register_configs()
    print(f"\nworlds known to be wrong, rejected over {seeds} seeds:")
    for overrides in (["world.block_hours=24"], ["world.block_hours=168"], ["world.block_hours=720"]):
        rejected, facts_failed = 0, {}
        for seed in range(seeds):
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                config = OmegaConf.to_container(compose("config", overrides=[*overrides, f"seed={seed}"]), resolve=True)
            result = _validate(config)
            rejected += not result["success"]
            for f in result["failed"]:
                facts_failed[f] = facts_failed.get(f, 0) + 1
        print(f"  {' '.join(overrides):<24} {rejected} of {seeds} rejected  {facts_failed}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="three_way")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--off", action="store_true", help="also run each with world.validate=false")
    parser.add_argument("--power", action="store_true", help="the check's size and power instead of its cost")
    parser.add_argument("--seeds", type=int, default=10, help="--power: seeds per known-wrong world")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides after --, e.g. n_episodes=200")
    args = parser.parse_args(argv)
    if args.power:
        power(args.seeds)
        return 0
    rows = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="hbwv-") as tmp:
            on = run_once(args.experiment, args.overrides, Path(tmp), True)
        off = None
        if args.off:
            with tempfile.TemporaryDirectory(prefix="hbwv-") as tmp:
                off = run_once(args.experiment, args.overrides, Path(tmp), False)
        rows.append((on, off))
    print(f"{args.experiment} {' '.join(args.overrides)} (1-min load {os.getloadavg()[0]:.1f})")
    for index, (on, off) in enumerate(rows):
        print(f"\nrun {index + 1} (exit {on['exit']})      wall s    CPU s")
        for stage in STAGES:
            print(f"  {stage:<16}{on['stages'][stage][0]:>10.2f}{on['stages'][stage][1]:>9.2f}")
        print(f"  {'check, in all':<16}{on['check'][0]:>10.2f}{on['check'][1]:>9.2f}")
        print(f"  {'whole run':<16}{on['wall_s']:>10.2f}{on['cpu_s']:>9.2f}")
        print(f"  {'share':<16}{100 * on['check'][0] / on['wall_s']:>9.1f}%{100 * on['check'][1] / on['cpu_s']:>8.1f}%")
        net = [on["check"][i] - on["stages"]["wv GX import"][i] for i in (0, 1)]
        print(f"  {'share, net of GX':<16}{100 * net[0] / on['wall_s']:>9.1f}%{100 * net[1] / on['cpu_s']:>8.1f}%")
        if off is not None:
            print(f"  {'validate=false':<16}{off['wall_s']:>10.2f}{off['cpu_s']:>9.2f}   (exit {off['exit']})")
            print(f"  {'difference':<16}{100 * (on['wall_s'] / off['wall_s'] - 1):>9.1f}%"
                  f"{100 * (on['cpu_s'] / off['cpu_s'] - 1):>8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
