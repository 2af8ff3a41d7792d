"""Historical worlds on device: market moves read from real bars, by stationary block bootstrap or replay.

The bars arrive as traced arrays (`HistoryParams`): a new history of the same length never recompiles.
Which bar a step reads depends only on (seed, episode index, world), drawn from the same counter hash
as the parametric world, so every agent setting sees the same path (common random numbers).

Bootstrap (Politis and Romano's stationary bootstrap): an episode starts at a uniformly drawn bar;
after each bar it moves on to the next one with probability 1 - restart_prob and jumps to a new
uniformly drawn bar otherwise (blocks of geometric length, mean 1 / restart_prob bars); the history
wraps circularly at its end. Replay: episode e reads bars [f + e * window, f + (e + 1) * window) in order, f
the bars the warm-up reads before the first window (`first_window_bar`).

A bar coarser than the step (steps_per_bar = k > 1) is spread over k steps along a Brownian bridge
from the bar's open to its close, held inside the bar's real high and low, landing exactly on the
close. The bar's variance (its Parkinson variance (ln H/L)^2 / (4 ln 2)) is laid out over the bar by
a within-bar variance profile: one row of `within_bar_variance`, the cumulative variance share F at
S + 1 evenly spaced points of the bar (S slots, linear within a slot), drawn at the bar's first step
from the counter hash. Step j of k gets the share s_j = F((j + 1) / k) - F(j / k) and moves by the
bridge of a walk with those step variances: mean (what is left to the close) x s_j / (share left),
variance V s_j (left - s_j) / left. The default tables are real finer bars' profiles
(`hbbatch.worlds.profiles`: an hour's twelve 5-minute Parkinson variances), so a jump hour puts its
variance into the minutes that held it, as real minutes do, instead of 60 minutes of raised volatility;
the flat row [0, 1] is the bar's variance held flat. The profile costs one two-value read of the table a
step (about 7 % of the full agent's episode-steps per CPU-s: 11.4-11.5 M against 12.1-12.4 M flat, 2,048 x
10,080 with a day's warm-up on a loaded machine). Each step's range for fees is the bar's high and
low seen from that step's start (a real excursion anywhere in the bar may have happened in any of its
steps). LVR integrates each step's realised squared move.

Warm-up (`warmup_world`): before its first decision the policy folds in the real bars that precede the
episode's first bar (the dates before its start, whatever the bootstrap does after it), bridged like the
episode's own, through `env.warm_up`, the parametric world's warm-up too.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hbbatch.sim import env, metrics, noise
from hbbatch.sim.price import MarketMove
from hbbatch.sim.types import REGIMES, SimParams, SimState

# Columns of HistoryParams.bars
LOG_RETURN, LOG_HIGH, LOG_LOW, ACTIVITY, GAS_USD, JUMP = range(6)
N_COLUMNS = 6
PARKINSON = 1.0 / (4.0 * 0.6931471805599453)  # E[(ln H/L)^2] = 4 ln 2 sigma^2 dt for a Brownian bar
_EPISODE_STEP = 0xFFFFFFFE                     # episode-level uniforms (the env uses 0xFFFFFFFF)
_TREND_UP, _JUMPY, _MEAN_REVERT = (REGIMES.index(r) for r in ("trend_up", "jumpy", "mean_revert"))
FLAT_PROFILE = np.array([[0.0, 1.0]], np.float32)   # a bar's variance held flat over its steps


class HistoryParams(NamedTuple):
    """A historical world: real bars and how episodes read them (all traced)."""

    bars: jax.Array                # (n_bars, N_COLUMNS) log_return, log_high, log_low (vs the previous close),
                                   # activity (pool volume of the bar / the level's, mean 1), gas_usd of one action,
                                   # jump (1.0 where |r| is a jump against its week's robust sigma)
    pool_levels: jax.Array         # (n_days, 2) volume multiple, active-liquidity multiple of one real pool day
                                   # (replay: one row per window)
    restart_prob: jax.Array        # () per bar; 0 replays
    window_bars: jax.Array         # () int32: replay window; 0 bootstraps
    steps_per_bar: jax.Array       # () int32 k >= 1
    drift_per_step: jax.Array      # () added to every step's log return (stress worlds; 0 as history)
    gas_scale: jax.Array           # () multiplies the history's gas (stress worlds; 1 as history)
    lp_fee_share: jax.Array        # () the LPs' share of the pool fee (fee switch: 0.75)
    trend_tstat: jax.Array         # () the regime rule's thresholds, to label each episode's path
    jumpy_variance_share: jax.Array  # ()
    within_bar_variance: jax.Array = FLAT_PROFILE  # (n_profiles, S + 1) cumulative variance share at S + 1
                                   # evenly spaced points of a bar, 0 .. 1 (module docstring); [[0, 1]]: flat
    first_window_bar: jax.Array = np.int32(0)  # () int32: a replay's first window begins here, after the bars
                                   # its warm-up reads (hbbatch.worlds.build); 0 bootstraps


class Cursor(NamedTuple):
    """Where an episode is in the history, and the path's sums for its regime label."""

    bar: jax.Array                 # () int32
    substep: jax.Array             # () int32 in [0, steps_per_bar)
    within: jax.Array              # () ln P moved since the bar opened
    sum_return: jax.Array          # ()
    sum_sq_return: jax.Array       # ()
    sum_sq_jump: jax.Array         # ()
    n: jax.Array                   # ()
    profile: jax.Array = np.int32(0)      # () int32: the bar's row of within_bar_variance (drawn at its first step)
    share: jax.Array = np.float32(0.0)    # () the bar's variance share laid out before this step


class EpisodeLevel(NamedTuple):
    volume_multiple: jax.Array     # () the episode's pool volume level, times the market's reference
    liquidity_multiple: jax.Array  # () its active liquidity, times the market's reference


def _n_bars(world: HistoryParams) -> jax.Array:
    return jnp.int32(world.bars.shape[0])


def start(counter_key: jax.Array, episode: jax.Array, world: HistoryParams) -> tuple[Cursor, EpisodeLevel]:
    """The episode's first bar and its pool level day, from (seed, episode) only."""
    dtype = world.bars.dtype
    u = noise.uniforms(counter_key, jnp.uint32(_EPISODE_STEP), 2, dtype)
    n = _n_bars(world)
    drawn = jnp.minimum((u[0] * n).astype(jnp.int32), n - 1)
    replayed = world.first_window_bar + episode.astype(jnp.int32) * world.window_bars
    bar = jnp.where(world.window_bars > 0, replayed, drawn)
    n_days = world.pool_levels.shape[0]
    # replay: one level per window, the pool's on the day the window starts
    day = jnp.where(world.window_bars > 0, jnp.minimum(episode.astype(jnp.int32), n_days - 1),
                    jnp.minimum((u[1] * n_days).astype(jnp.int32), n_days - 1))
    zero = jnp.zeros((), dtype)
    cursor = Cursor(bar=bar, substep=jnp.zeros((), jnp.int32), within=zero, sum_return=zero, sum_sq_return=zero,
                    sum_sq_jump=zero, n=zero, profile=jnp.zeros((), jnp.int32), share=zero)
    return cursor, EpisodeLevel(volume_multiple=world.pool_levels[day, 0], liquidity_multiple=world.pool_levels[day, 1])


def draw(counter_key: jax.Array, t: jax.Array, dtype) -> tuple[jax.Array, ...]:
    """The step's four uniforms: (restart?, where to) of the bootstrap, and a normal pair for sub-bar steps. A
    bar's first step, when it is not also its last (k > 1), reads no restart: its first uniform draws the bar's
    within-bar profile instead."""
    return noise.uniform_streams(counter_key, t, 4, dtype)


def move(u: tuple[jax.Array, ...], cursor: Cursor, level: EpisodeLevel, pool_liquidity: jax.Array, world: HistoryParams,
         fee_rate: jax.Array, volume_usd_per_step: jax.Array) -> tuple[Cursor, MarketMove]:
    """One step's market move from the cursor's bar, and the cursor for the next step."""
    row = world.bars[cursor.bar]
    bar_return, bar_high, bar_low = row[LOG_RETURN], row[LOG_HIGH], row[LOG_LOW]
    k = world.steps_per_bar
    # Sub-bar steps follow a Brownian bridge to the bar's close (variance: the bar's Parkinson variance laid
    # out by the bar's within-bar profile), held inside the bar's real high and low; the bar's last step
    # lands on its close exactly.
    first = cursor.substep == 0
    profile, share_before = within_bar_profile(u[0], first, cursor, world)
    share_after = profile_share(profile, (cursor.substep + 1).astype(row.dtype) / k.astype(row.dtype), world)
    share_left = jnp.maximum(1.0 - share_before, 1e-12)
    step_share = jnp.clip(share_after - share_before, 0.0, share_left)
    remaining = bar_return - cursor.within
    bar_variance = PARKINSON * (bar_high - bar_low) ** 2
    z, _ = noise.normal_pair(u[2], u[3])
    bridge = remaining * (step_share / share_left) + jnp.sqrt(
        bar_variance * step_share * (share_left - step_share) / share_left) * z
    within_next = jnp.where(cursor.substep + 1 >= k, bar_return,
                            jnp.clip(cursor.within + bridge, bar_low, bar_high))
    step_return = within_next - cursor.within
    log_return = step_return + world.drift_per_step
    # the bar's high and low, seen from this step's start, bound the step's range
    log_high = jnp.maximum(bar_high - cursor.within, jnp.maximum(step_return, 0.0)) + world.drift_per_step
    log_low = jnp.minimum(bar_low - cursor.within, jnp.minimum(step_return, 0.0)) + world.drift_per_step
    world_move = MarketMove(
        log_return=log_return, variance_per_step=log_return**2,   # realised: LVR sees jumps
        volume_usd=volume_usd_per_step * level.volume_multiple * row[ACTIVITY],
        gas_noise=jnp.zeros((), row.dtype), gas_spell=jnp.zeros((), bool), pool_liquidity=pool_liquidity,
        log_high=jnp.maximum(log_high, jnp.maximum(log_return, 0.0)),
        log_low=jnp.minimum(log_low, jnp.minimum(log_return, 0.0)),
        gas_usd=row[GAS_USD] * world.gas_scale, lp_fee_rate=fee_rate * world.lp_fee_share)

    # --- the next step's bar
    next_substep = cursor.substep + 1
    bar_done = next_substep >= k
    n = _n_bars(world)
    restart = (u[0] < world.restart_prob) & (world.window_bars == 0)
    jumped = jnp.minimum((u[1] * n).astype(jnp.int32), n - 1)
    following = jnp.where(cursor.bar + 1 >= n, 0, cursor.bar + 1)   # circular, as the stationary bootstrap
    next_bar = jnp.where(bar_done, jnp.where(restart, jumped, following), cursor.bar)
    sq = log_return**2
    cursor = Cursor(bar=next_bar, substep=jnp.where(bar_done, 0, next_substep),
                    within=jnp.where(bar_done, 0.0, within_next),
                    sum_return=cursor.sum_return + log_return, sum_sq_return=cursor.sum_sq_return + sq,
                    sum_sq_jump=cursor.sum_sq_jump + sq * row[JUMP], n=cursor.n + 1.0,
                    profile=profile, share=jnp.where(bar_done, 0.0, share_after).astype(cursor.within.dtype))
    return cursor, world_move


def within_bar_profile(u: jax.Array, first: jax.Array, cursor: Cursor, world: HistoryParams
                       ) -> tuple[jax.Array, jax.Array]:
    """The bar's profile row (drawn from `u` at its first step, carried after) and the share laid out before
    this step."""
    n_profiles = world.within_bar_variance.shape[0]
    drawn = jnp.minimum((u * n_profiles).astype(jnp.int32), n_profiles - 1)
    profile = jnp.where(first, drawn, cursor.profile).astype(jnp.int32)
    return profile, jnp.where(first, 0.0, cursor.share).astype(cursor.within.dtype)


def profile_share(profile: jax.Array, fraction: jax.Array, world: HistoryParams) -> jax.Array:
    """The cumulative variance share F(fraction) of one profile row: linear between its S + 1 points (two
    table reads a step)."""
    table = world.within_bar_variance
    n_slots = table.shape[1] - 1
    x = fraction * n_slots
    slot = jnp.clip(jnp.floor(x).astype(jnp.int32), 0, n_slots - 1)
    pair = jax.lax.dynamic_slice(table.reshape(-1), (profile * (n_slots + 1) + slot,), (2,))   # one read
    return (pair[0] + (x - slot.astype(x.dtype)) * (pair[1] - pair[0])).astype(fraction.dtype)


def label(cursor: Cursor, world: HistoryParams) -> jax.Array:
    """The regime rule of `hbbatch.calibration.regimes` on the episode's step returns: trend_up when the
    drift t-statistic reaches trend_tstat, else jumpy when jumps carry jumpy_variance_share of the
    variance, else mean_revert. Jumps are flagged per bar against the bar's week (host side)."""
    n = jnp.maximum(cursor.n, 2.0)
    variance = jnp.maximum((cursor.sum_sq_return - cursor.sum_return**2 / n) / (n - 1.0), 1e-30)
    tstat = cursor.sum_return / jnp.sqrt(n * variance)
    jump_share = cursor.sum_sq_jump / jnp.maximum(cursor.sum_sq_return, 1e-30)
    return jnp.where(tstat >= world.trend_tstat, _TREND_UP,
                     jnp.where(jump_share >= world.jumpy_variance_share, _JUMPY, _MEAN_REVERT)).astype(jnp.int32)


_WARMUP_LAST = _EPISODE_STEP - 1              # warm-up bridges draw from counters below the episode-level ones


def warmup_world(counter_key: jax.Array, first_bar: jax.Array, level: EpisodeLevel, pool_liquidity: jax.Array,
                 world: HistoryParams, fee_rate: jax.Array, volume_usd_per_step: jax.Array,
                 n_steps: int) -> env.WarmupWorld:
    """The real history before the episode's first bar, for `env.warm_up`: the m = n_steps // k whole bars
    that fit in the warm-up (k steps per bar), bars first_bar - m .. first_bar - 1 read in order (the dates
    that precede the episode's, whatever the bootstrap does after its first bar), each spread over its k steps
    by `move` as in the episode (the bridge's normals from counters the episode never uses, so its path is
    the same with or without warm-up). Not seen, so the memory keeps its prior there: the n_steps - m k
    leading steps, and bars before the history's first (an episode that starts within m bars of the history's
    beginning warms up on the bars there are; a replay's windows begin after the bars their warm-up reads)."""
    k = world.steps_per_bar
    n_bars = jnp.int32(n_steps) // k
    lead = jnp.int32(n_steps) - n_bars * k
    zero = jnp.zeros((), world.bars.dtype)

    def draw_step(j):
        return draw(counter_key, env.warmup_counter(j, n_steps, _WARMUP_LAST), world.bars.dtype)

    def step(carry, u, j):
        within, profile, share = carry
        position = jnp.maximum(j - lead, 0)
        bar = first_bar - n_bars + position // k
        seen = (j >= lead) & (bar >= 0)
        cursor = Cursor(bar=jnp.maximum(bar, 0), substep=position % k, within=within, sum_return=zero,
                        sum_sq_return=zero, sum_sq_jump=zero, n=zero, profile=profile, share=share)
        after, world_move = move(u, cursor, level, pool_liquidity, world, fee_rate, volume_usd_per_step)
        carried = (jnp.where(seen, after.within, 0.0), after.profile, jnp.where(seen, after.share, 0.0))
        return carried, world_move, seen

    return env.WarmupWorld(draw=draw_step, step=step, carry=(zero, jnp.zeros((), jnp.int32), zero))


def reset(seed: jax.Array, episode: jax.Array, params: SimParams, classifier: str, warmup_steps: int = 0):
    """The episode's opening state (the policy warmed up on the real bars before its first), its cursor, and
    the world's step `(cursor, uniforms) -> (cursor, MarketMove)` (the agent's is `env.advance`)."""
    world, market = params.world, params.market
    # the pool level comes from the episode's own counter key, the one env.reset derives from (seed, episode)
    counter_key = noise.episode_key(seed, episode)
    cursor, level = start(counter_key, episode, world)
    pool_liquidity = market.pool_liquidity * level.liquidity_multiple
    before = warmup_world(counter_key, cursor.bar, level, pool_liquidity, world, market.fee_rate,
                          market.volume_usd_per_step, warmup_steps)
    # the opening band pays the gas of the episode's first bar's day, as every later action pays its own
    opening_gas_usd = world.bars[cursor.bar, GAS_USD] * world.gas_scale
    state = env.reset(seed, episode, params, classifier, pool_liquidity=pool_liquidity, warmup_steps=warmup_steps,
                      warmup_world=before, opening_gas_usd=opening_gas_usd)
    return state, cursor, world_stepper(state, episode, params)


def world_stepper(state: SimState, episode: jax.Array, params: SimParams):
    """The world's step `(cursor, uniforms) -> (cursor, MarketMove)` of the episode `state` belongs to, at any of
    its steps: the pool level drawn again from the episode's key (as `start` draws it), the pool liquidity the
    state's own, so a run resumed from a saved state reads the bars as the original did."""
    world, market = params.world, params.market
    _, level = start(state.episode.counter_key, episode, world)
    pool_liquidity = state.episode.pool_liquidity

    def world_step(cursor: Cursor, u: jax.Array) -> tuple[Cursor, MarketMove]:
        return move(u, cursor, level, pool_liquidity, world, market.fee_rate, market.volume_usd_per_step)

    return world_step


def episode_metrics(carry: tuple[SimState, Cursor], params: SimParams) -> dict[str, jax.Array]:
    """The simulator's metrics, labelled with the regime of the episode's own path."""
    state, cursor = carry
    return {**metrics.episode_metrics(state, params), "regime": label(cursor, params.world)}
