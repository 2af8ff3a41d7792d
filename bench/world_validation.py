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
- wv suite:    the great-expectations check of the facts (the GX import included the first time)
- wv reuse:    the rest of the check: hashing the world's key, reading and writing the stored results

The share is the check's inclusive time over the whole run (wall and CPU seconds of the process).
With --off a run with world.validate=false follows each, and the difference of totals is printed too
(it carries the machine's noise: other processes share it).
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

STAGES = ("wv sample", "wv facts", "wv real", "wv suite", "wv reuse")
WRAPPED = (
    ("hbbatch.campaign.job", "check_world", "wv reuse"),
    ("hbbatch.campaign.world_check", "_validate", "wv reuse"),
    ("hbbatch.worlds.validation", "sample_paths", "wv sample"),
    ("hbbatch.campaign.world_check", "sample_world", "wv sample"),
    ("hbbatch.worlds.validation", "stylised_facts", "wv facts"),
    ("hbbatch.worlds.reference", "embedded_history_facts", "wv real"),
    ("hbbatch.campaign.world_check", "embedded_history_facts", "wv real"),
    ("hbbatch.worlds.validation", "check_facts", "wv suite"),
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="three_way")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--off", action="store_true", help="also run each with world.validate=false")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides after --, e.g. n_episodes=200")
    args = parser.parse_args(argv)
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
        if off is not None:
            print(f"  {'validate=false':<16}{off['wall_s']:>10.2f}{off['cpu_s']:>9.2f}   (exit {off['exit']})")
            print(f"  {'difference':<16}{100 * (on['wall_s'] / off['wall_s'] - 1):>9.1f}%"
                  f"{100 * (on['cpu_s'] / off['cpu_s'] - 1):>8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
