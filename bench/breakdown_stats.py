"""What the statistics of one job cost as episodes grow: paired comparison (overall and per regime, two
metrics) and one variant's description, with the grouped bootstrap (hbbatch.stats.BOOTSTRAP_UNITS groups
beyond that many episodes) against the ordinary one (every episode a unit).

    python bench/breakdown_stats.py                       # 1e3 .. 4e6 episodes, 2,000 resamples
    python bench/breakdown_stats.py --episodes 1000000 --ordinary-up-to 200000

The ordinary bootstrap is O(n x resamples); it is run only up to --ordinary-up-to episodes (the figures
beyond are its linear extrapolation, marked ~). CPU seconds (process time).
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
import pandas as pd

from hbbatch import stats
from hbbatch.config.sim import REGIMES


def episodes(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"episode": np.arange(n), "regime": np.asarray(REGIMES)[rng.integers(0, 3, n)],
                         "net_pnl_usd": rng.normal(-1400.0 + shift, 900.0, n),
                         "return": rng.normal(-0.014, 0.0068, n), "widens": rng.poisson(0.7, n),
                         "actions": rng.poisson(3.0, n) + 1})


def cost(n: int, n_bootstrap: int, max_units: int) -> tuple[float, float]:
    rng = np.random.default_rng(n)
    base = episodes(n, rng)
    variant = base.assign(net_pnl_usd=base["net_pnl_usd"] + rng.normal(250.0, 800.0, n))
    with mock.patch.object(stats, "BOOTSTRAP_UNITS", max_units):
        start = time.process_time()
        row = stats.compare_pair(variant, base, ["net_pnl_usd", "widen_share"], variant_label="B",
                                 baseline_label="A", n_bootstrap=n_bootstrap, seed=1).iloc[0]
        stats.describe_metrics(base, ["net_pnl_usd", "return", "widen_share"], 0.95, n_bootstrap, 1, "A")
        return time.process_time() - start, (row.boot_high - row.boot_low) / 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000, 4_000_000])
    parser.add_argument("--n-bootstrap", type=int, default=2000)
    parser.add_argument("--ordinary-up-to", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(f"{'episodes':>10} {'grouped CPU-s':>14} {'ordinary CPU-s':>15} {'CI half-width grouped / ordinary':>34}")
    per_episode = None
    for n in args.episodes:
        grouped_s, grouped_half = cost(n, args.n_bootstrap, stats.BOOTSTRAP_UNITS)
        if n <= args.ordinary_up_to:
            ordinary_s, ordinary_half = cost(n, args.n_bootstrap, n)
            per_episode = ordinary_s / n
            ordinary, ratio = f"{ordinary_s:.2f}", f"{grouped_half / ordinary_half:.3f}"
        else:
            ordinary, ratio = (f"~{per_episode * n:.0f}" if per_episode else "-"), "-"
        print(f"{n:>10,} {grouped_s:>14.2f} {ordinary:>15} {ratio:>34}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
