"""`python -m hbbatch task=replay`: hold a band on the pool's own tick grid over real minute bars.

    python -m hbbatch task=replay replay.bars=<demeter minute csv> 'replay.hold_band=[lower,upper]' \
        agent.capital_usd=100000 [replay.positions=<demeter positions csv>]

Modules: `bars` (demeter minute bars with their exact integers, gated), `band` (band placement,
amounts and fees with hbbatch.uniswap's exact integer math), `positions` (real positions of the same
day replayed and compared with what they collected), `agent` (`replay.agent=true`: the simulator's agent
instead of a fixed band, warmed up on the bars' first `agent.warmup_minutes`), `task` (the command and its
artifacts).
"""
