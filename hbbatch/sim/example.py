"""One episode's action log, to read what the bot does: `python -m hbbatch.sim.example`.

    python -m hbbatch.sim.example                         # campaign B's bot (EV gate, GAS=$2, FEE_GATE=$4), jumpy
    python -m hbbatch.sim.example --regime trend_up --gating off --days 3
    python -m hbbatch.sim.example --gas-usd 4.2 --fee-gate-usd 8.4 --reentry swap_to_ratio

The episode is drawn from the parametric world with the default settings (hbbatch/config/sim.py),
the seed and the first episode of the chosen regime; every action is one line: the minute, the
price, the regime the bot classified, the action and the rule (or rail) that asked for it, the band
it holds after (in USD per ETH and in ticks), and equity. docs/agent.md explains each rule.
"""

from __future__ import annotations

import argparse

import numpy as np

from hbbatch.sim.params import make_params
from hbbatch.sim.rollout import simulate
from hbbatch.sim.types import ACTION_KINDS, OWNERS, REGIMES, RolloutSpec


def action_log(regime: str = "jumpy", seed: int = 42, days: float = 7.0, gating: str = "ev",
               agent: dict | None = None, warmup_minutes: float = 1440.0) -> list[str]:
    """The lines of one episode's log (the first episode of `regime` among the first 64 of `seed`)."""
    n_steps = int(days * 1440)
    spec = RolloutSpec(n_episodes=64, n_steps=n_steps, gating=gating, record_path=True,
                       warmup_steps=int(warmup_minutes))
    params = make_params(agent=agent)
    result = simulate(spec, params, seed)
    matches = np.flatnonzero(result.episodes["regime"] == regime)
    if matches.size == 0:
        raise SystemExit(f"no {regime} episode among the first 64 of seed {seed}: try another --seed")
    i = int(matches[0])
    ep, path = {k: v[i] for k, v in result.episodes.items()}, result.path
    price0 = float(ep["price_start"])
    lines = [f"episode {i} of seed {seed}: true regime {regime}, gating {gating}, {days:g} days, "
             f"start price {price0:,.2f} USD/ETH",
             f"{'minute':>7} {'price':>9}  {'classified':<11} {'action':<9} {'by':<15} "
             f"{'band [USD/ETH]':<21} {'ticks':>6} {'equity':>10}"]
    band = lambda lower, upper: (price0 * 1.0001**lower, price0 * 1.0001**upper)  # noqa: E731
    lo, hi = band(path.tick_lower[i, 0], path.tick_upper[i, 0])
    lines.append(f"{0:>7} {price0:>9,.2f}  {REGIMES[int(path.regime_estimate[i, 0])]:<11} {'open':<9} "
                 f"{'initial':<15} {lo:>9,.2f}-{hi:<9,.2f}  {int(path.tick_upper[i, 0] - path.tick_lower[i, 0]):>6} "
                 f"{'':>10}")
    for t in np.flatnonzero(path.action[i] != ACTION_KINDS.index("hold")):
        lo, hi = band(path.tick_lower[i, t], path.tick_upper[i, t])
        lines.append(f"{t + 1:>7} {float(path.price_usd[i, t]):>9,.2f}  "
                     f"{REGIMES[int(path.regime_estimate[i, t])]:<11} {ACTION_KINDS[int(path.action[i, t])]:<9} "
                     f"{OWNERS[int(path.owner[i, t])]:<15} {lo:>9,.2f}-{hi:<9,.2f}  "
                     f"{int(path.tick_upper[i, t] - path.tick_lower[i, t]):>6} {float(path.equity_usd[i, t]):>10,.2f}")
    lines.append(f"actions {int(ep['actions'])} (widens {int(ep['widens'])}), gas {float(ep['gas_usd']):.2f} USD, "
                 f"swap cost {float(ep['swap_cost_usd']):.2f} USD, fees {float(ep['fees_usd']):.2f} USD, "
                 f"time in range {float(ep['time_in_range']):.1%}, net PnL {float(ep['net_pnl_usd']):+,.2f} USD, "
                 f"vs HODL {float(ep['pnl_vs_hodl_usd']):+,.2f} USD")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hbbatch.sim.example", description=__doc__.split("\n\n")[0])
    parser.add_argument("--regime", choices=REGIMES, default="jumpy")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--gating", choices=("ev", "off"), default="ev")
    parser.add_argument("--gas-usd", type=float, default=2.0)
    parser.add_argument("--fee-gate-usd", type=float, default=4.0)
    parser.add_argument("--reentry", choices=("single_sided", "swap_to_ratio"), default="single_sided")
    args = parser.parse_args(argv)
    agent = {"gas_usd": args.gas_usd, "fee_gate_usd": args.fee_gate_usd, "rules": {"reentry": args.reentry}}
    print("\n".join(action_log(args.regime, args.seed, args.days, args.gating, agent)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

