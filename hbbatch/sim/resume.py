"""Counterfactual re-runs resumed from a factual run's checkpoints, packed into the lanes of one batch shape.

An episode run again with rules switched off is the factual episode step for step until one of those rules
first fires (`hbbatch.campaign.rule_values.counterfactual_runs` says why). So the re-run need not start at the
open: it resumes from the factual carry (state and world) at the last checkpoint before that step (the factual
run saves one every K steps: `RolloutSpec.checkpoint_steps`), skipping the warm-up and the steps before it.
Each re-run is then a segment of whole K-step units, from its checkpoint to the episode's end.

Segments are packed into lanes, longest first, each into the lane with least work so far; a lane runs its
segments back to back, loading the next one's checkpoint at a unit boundary. The lanes go through calls of
`call_units` units of one compiled program (a lane's carry passes from one call to the next), and a
segment's metrics are those at the end of its last unit. Every lane works in every unit: lanes that have run
out of segments reload a checkpoint and their results are dropped.

Bit-identical to re-runs from the open in a world of real bars (tests/sim/test_resume.py): XLA compiles this
program separately from the rollout's, so the carry is held as the rollout holds it (`as_the_rollout_holds`)
and the metrics are taken outside the loop, as the rollout takes them; otherwise XLA rounds the same
formulas differently (docs/agent.md, "What each rule is worth"). Where segments are packed changes no bit.
In the parametric world counts and labels are the same and money equal to float rounding (there the
campaign re-runs from the open: hbbatch.campaign.stream.checkpoint_steps).
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hbbatch import program_cache
from hbbatch.sim import history, noise, precision, rollout
from hbbatch.sim.types import N_RULES, RolloutSpec, SimParams


CHECKPOINT_UNITS = 10   # units an episode is cut into: a re-run runs about 61 % of the steps at 10 (three-way)


def unit_steps(n_steps: int, steps_per_bar: int = 1, units: int = CHECKPOINT_UNITS) -> int:
    """K for episodes of n_steps: a whole number of the rollout's draw blocks and of the world's bars
    (steps_per_bar) that divides n_steps into at least `units` units, as few as can (else as many as can, at
    least 2); 0 where none does."""
    whole = math.lcm(rollout.DRAW_BLOCK_STEPS, max(int(steps_per_bar), 1))
    counts = [n for n in range(2, n_steps // whole + 1) if n_steps % n == 0 and (n_steps // n) % whole == 0]
    enough = [n for n in counts if n >= units]
    return n_steps // (min(enough) if enough else max(counts)) if counts else 0


class Units(NamedTuple):
    """A lane's inputs, one row per unit: whether it starts a segment (load the checkpoint), the checkpoint,
    and the segment's episode index and enabled rules."""

    load: jax.Array           # bool
    checkpoint: tuple         # (SimState, world carry)
    episode: jax.Array        # uint32
    rule_enabled: jax.Array   # (n_rules,) bool


def start_units(checkpoints: rollout.Checkpoints, rows: np.ndarray, rule_enabled: np.ndarray,
                own: np.ndarray) -> np.ndarray:
    """Each run's first unit: the last checkpoint before which none of the rules it switches off (enabled in
    the factual run, `own`, and not in its `rule_enabled` row) had fired. `rows` index checkpoints.episodes."""
    if (rule_enabled & ~own).any():
        raise ValueError("a resumed run can only switch rules off: the factual run's checkpoints are not its "
                         "steps where it enables a rule the factual run had off")
    fires = checkpoints.carry[0].totals.rule_fires[rows][:, :, 1:1 + N_RULES]   # owners: initial, then rules
    switched_off = own[None, :] & ~rule_enabled
    quiet = ~((fires > 0) & switched_off[:, None, :]).any(axis=2)   # (runs, units): no fire before the unit
    return quiet.sum(axis=1) - 1   # fires only grow, and none is counted before the open (unit 0)


def pack(lengths: np.ndarray, n_lanes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(lane, first unit in the lane) of each segment, and the most units a lane runs: longest first, each to
    the lane with least work so far (within one segment of the best packing)."""
    lane, offset = np.zeros(len(lengths), np.int64), np.zeros(len(lengths), np.int64)
    loads = [(0, index) for index in range(n_lanes)]
    for run in np.argsort(-lengths, kind="stable"):
        work, index = heapq.heappop(loads)
        lane[run], offset[run] = index, work
        heapq.heappush(loads, (work + int(lengths[run]), index))
    return lane, offset, max(work for work, _ in loads)


def as_the_rollout_holds(carry, seed: jax.Array, episode: jax.Array, params: SimParams, spec: RolloutSpec):
    """A saved carry at a unit boundary in the form the job's own rollout holds it there, so that XLA compiles
    the steps after it to the same arithmetic as the rollout's (bit for bit): the episode's constants derived
    again from (seed, episode) as `rollout.episode_start` derives them (those that depend on the params only
    are then one value for every lane, as in the rollout), and a historical world's position within its bar
    held as one value for every lane, as the rollout holds it (every episode is at the same step there): 0,
    since K is a whole number of bars (`unit_steps`)."""
    state, world_carry = carry
    opening, _ = rollout.episode_start(seed, episode, params, dataclasses.replace(spec, warmup_steps=0))
    if isinstance(params.world, history.HistoryParams):
        world_carry = world_carry._replace(substep=jnp.zeros((), jnp.int32))
    return state._replace(episode=opening.episode), world_carry


@functools.lru_cache(maxsize=8)
def compiled_resume(spec: RolloutSpec):
    """The jitted re-run program of a spec (spec.n_episodes lanes of units of spec.checkpoint_steps steps):
    ((seed words, params, n_steps), (carry, units)) -> (each lane's carry after its units, the metrics at the end of
    every unit, read where a segment ends: at the episode's last step)."""
    steps = spec.checkpoint_steps

    def lane(shared, lane):
        seed, params, n_steps = shared   # n_steps traced: a constant's division XLA would make a product

        def unit(carry, inputs):
            carry = jax.tree.map(lambda saved, own: jnp.where(inputs.load, saved, own), inputs.checkpoint, carry)
            unit_params = params._replace(agent=params.agent._replace(rule_enabled=inputs.rule_enabled))
            state, world_carry = as_the_rollout_holds(carry, seed, inputs.episode, unit_params, spec)
            after, _ = rollout.run_steps(state, world_carry, state.t, steps, inputs.episode, unit_params, spec)
            return after, after

        carry, (states, world_carries) = jax.lax.scan(unit, *lane)

        def finish(state, world_carry, episode):   # outside the loop, as the rollout's: the same arithmetic
            last, world_carry = as_the_rollout_holds((state, world_carry), seed, episode, params, spec)
            last = last._replace(t=n_steps)   # as the rollout's after its last step: one value for all lanes
            return rollout.finish_episode(last, world_carry, episode, params)

        return carry, jax.vmap(finish)(states, world_carries, lane[1].episode)

    program, sharding, padded = rollout.lane_program(lane, spec.n_episodes)
    return jax.jit(program), sharding, padded


def resumed_metrics(spec: RolloutSpec, params: SimParams, seed: int, checkpoints: rollout.Checkpoints, episodes,
                    rule_enabled, call_units: int | None = None, from_open: bool = False) -> dict[str, np.ndarray]:
    """The metrics of `episodes` (indices into the factual run's, any order) each run with its own enabled
    rules (`rule_enabled`, (len(episodes), n_rules) bool, only switching rules off), resumed from the factual
    run's `checkpoints` (params and seed: the factual run's). Calls hold spec.n_episodes lanes of `call_units` units
    (default: half an episode's, rounded up); spec.checkpoint_steps must be the checkpoints' steps. `from_open`
    starts every run at checkpoint 0 (the whole episode after its warm-up: a check of the resumed ones)."""
    episodes = np.asarray(episodes, np.int64).reshape(-1)
    masks = np.asarray(rule_enabled, bool).reshape(len(episodes), N_RULES)
    own = np.asarray(params.agent.rule_enabled, bool)
    n_units = spec.n_steps // checkpoints.steps
    if spec.checkpoint_steps != checkpoints.steps or jax.tree.leaves(checkpoints.carry)[0].shape[1] != n_units:
        raise ValueError(f"checkpoints every {checkpoints.steps} steps for a spec of {spec.checkpoint_steps}")
    if isinstance(params.world, history.HistoryParams) and checkpoints.steps % int(params.world.steps_per_bar):
        raise ValueError(f"checkpoints every {checkpoints.steps} steps: not a whole number of the world's bars "
                         f"({int(params.world.steps_per_bar)} steps each; see unit_steps)")
    position = {int(e): i for i, e in enumerate(checkpoints.episodes)}
    if any(int(e) not in position for e in episodes):
        raise ValueError("resumed runs of episodes the checkpoints do not hold")
    rows = np.asarray([position[int(e)] for e in episodes], np.int64)
    first = np.zeros(len(rows), np.int64) if from_open else start_units(checkpoints, rows, masks, own)
    lengths = n_units - first
    call_units = int(call_units or -(-n_units // 2))
    fn, sharding, n_lanes = compiled_resume(spec)
    lane, offset, most = pack(lengths, n_lanes)
    total = max(-(-most // call_units), 1) * call_units
    # unit-level plan: padding units reload checkpoint 0 of the first row and their metrics are dropped
    load, row, unit = np.ones((n_lanes, total), bool), np.zeros((n_lanes, total), np.int64), \
        np.zeros((n_lanes, total), np.int64)
    episode = np.full((n_lanes, total), checkpoints.episodes[0], np.uint32)
    enabled = np.broadcast_to(own, (n_lanes, total, N_RULES)).copy()
    run_of_unit = np.repeat(np.arange(len(episodes)), lengths)
    within = np.arange(len(run_of_unit)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    at = (lane[run_of_unit], offset[run_of_unit] + within)
    load[at], row[at], unit[at] = within == 0, rows[run_of_unit], first[run_of_unit] + within
    episode[at], enabled[at] = episodes[run_of_unit], masks[run_of_unit]
    end_lane, end_unit = lane, offset + lengths - 1
    out: dict[str, np.ndarray] = {}
    with precision.scope():
        params, seed_words = rollout.cast_params(params, spec.dtype), jnp.asarray(noise.seed_words(seed))
        n_steps = jnp.asarray(spec.n_steps, jnp.int32)
        carry = None
        for call in range(total // call_units):
            part = slice(call * call_units, (call + 1) * call_units)
            saved = jax.tree.map(lambda x: x[row[:, part], unit[:, part]], checkpoints.carry)
            units = Units(load=load[:, part], checkpoint=saved, episode=episode[:, part],
                          rule_enabled=enabled[:, part])
            if carry is None:   # loaded at the first unit of every lane
                carry = jax.tree.map(lambda x: x[:, 0], saved)
            lanes = jax.device_put((carry, units), sharding)
            carry, metrics = program_cache.call(fn, repr((spec, "resume")), (seed_words, params, n_steps), lanes)
            metrics = rollout.fetch(metrics)
            done = (end_unit >= part.start) & (end_unit < part.stop)
            for key, value in metrics.items():
                if key not in out:
                    out[key] = np.zeros((len(episodes),) + value.shape[2:], value.dtype)
                out[key][done] = value[end_lane[done], end_unit[done] - part.start]
    return out


def compile_ahead(spec: RolloutSpec, params: SimParams, seed: int, call_units: int | None = None) -> None:
    """Start compiling the re-run program of `spec` on a worker thread (hbbatch.program_cache.prepare), for
    calls as `resumed_metrics` makes them (same `call_units`): its arguments' form is known before the
    factual run exists (a checkpoint has the form of an episode's opening carry)."""
    n_units = spec.n_steps // spec.checkpoint_steps
    call_units = int(call_units or -(-n_units // 2))
    fn, sharding, n_lanes = compiled_resume(spec)
    with precision.scope():
        params, seed_words = rollout.cast_params(params, spec.dtype), jnp.asarray(noise.seed_words(seed))
        opening = dataclasses.replace(spec, warmup_steps=0)   # the same form, without tracing the warm-up
        one = jax.eval_shape(lambda s, e, p: rollout.episode_start(s, e, p, opening), seed_words,
                             jnp.zeros((), jnp.uint32), params)
        saved = jax.tree.map(lambda x: np.zeros((n_lanes, call_units) + x.shape, x.dtype), one)
        units = Units(load=np.zeros((n_lanes, call_units), bool), checkpoint=saved,
                      episode=np.zeros((n_lanes, call_units), np.uint32),
                      rule_enabled=np.zeros((n_lanes, call_units, N_RULES), bool))
        lanes = jax.device_put((jax.tree.map(lambda x: x[:, 0], saved), units), sharding)
        program_cache.prepare(fn, repr((spec, "resume")), (seed_words, params, jnp.asarray(spec.n_steps, jnp.int32)),
                              lanes, context=precision.scope)


def simulate_resumed(spec: RolloutSpec, params: SimParams, seed: int, checkpoints: rollout.Checkpoints, episodes,
                     rule_enabled, call_units: int | None = None, from_open: bool = False) -> rollout.SimResult:
    """`resumed_metrics` as `rollout.simulate`'s host tables, rows in the order given."""
    episodes = np.asarray(episodes, np.int64).reshape(-1)
    out = resumed_metrics(spec, params, seed, checkpoints, episodes, rule_enabled, call_units, from_open)
    return rollout.SimResult(*rollout.tables(out, episodes), path=None)
