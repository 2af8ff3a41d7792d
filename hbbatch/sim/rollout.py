"""Batching at the edge: `lax.scan` over steps and `vmap` over episodes, the whole batch one jitted call.

Compiled functions are cached per RolloutSpec (static), so every job of a multirun with the same
shapes reuses one compile; params are traced, so sweeping numbers never recompiles. Episodes are
sharded over all local devices (GPUs where present; on a CPU, the devices that the process's XLA_FLAGS
expose: the CLI and bench/ expose one per core, see hbbatch/jax_setup.py).

Importing this module changes no JAX setting: float64 is switched on only around the simulator's own
work (hbbatch/sim/precision.py).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from hbbatch import jax_setup, program_cache
from hbbatch.sim import env, history, metrics, noise, precision, price
from hbbatch.sim.types import OWNERS, REGIMES, RolloutSpec, SimParams, SimState, StepRecord


class Checkpoints(NamedTuple):
    """A run's carries every `steps` steps (RolloutSpec.checkpoint_steps), host arrays: `carry` is the
    (SimState, world carry) of episode `episodes[i]` before step j * steps at [i, j], j = 0 .. n_steps / steps - 1."""

    steps: int
    episodes: np.ndarray              # (n_episodes,) int64
    carry: Any                        # each leaf (n_episodes, n_units, ...)


class SimResult(NamedTuple):
    episodes: dict[str, np.ndarray]   # each (n_episodes,)
    rules: dict[str, np.ndarray]      # each (n_episodes * n_owners,)
    path: StepRecord | None           # each (n_episodes, n_steps) when spec.record_path
    checkpoints: Checkpoints | None = None   # when spec.checkpoint_steps


DRAW_BLOCK_STEPS = 16  # random numbers are drawn this many steps at a time (16 to 32: within 3 %)


class EpisodeWorld(NamedTuple):
    """How one episode's world moves, built from any state of the episode (its constants and key)."""

    draw: Callable            # (counter key, step hash, dtype) -> the step's random numbers
    step: Callable            # (world carry, draws) -> (world carry, MarketMove): never reads the agent
    finish: Callable          # (state, world carry) -> the episode's metrics
    derived: tuple[str, ...] = ()   # fields of a move that `derive` computes from its others (not stored per step)
    derive: Callable = lambda world: world   # (move without the derived fields) -> the move


def episode_start(seed: jax.Array, episode: jax.Array, params: SimParams, spec: RolloutSpec):
    """(state, world carry) at the episode's open: its constants, the policy warmed up, the band open."""
    if not isinstance(params.world, history.HistoryParams):  # parametric (its level table or none)
        state = env.reset(seed, episode, params, spec.classifier, warmup_steps=spec.warmup_steps)
        return state, (state.t, state.log_price, state.gas_spell, state.market)
    state, cursor, _ = history.reset(seed, episode, params, spec.classifier, spec.warmup_steps)
    return state, cursor   # a historical world: the cursor into the real bars is the world's own state


def episode_world(state: SimState, episode: jax.Array, params: SimParams) -> EpisodeWorld:
    """The world's step and finish for the episode `state` belongs to (at any of its steps: they read only its
    constants, key and the world carry, so a run resumed from a saved state moves as the original)."""
    if not isinstance(params.world, history.HistoryParams):
        def world_step(carry, draws):
            t, log_price, gas_spell, market = carry
            world, market = env.world_move(draws, state._replace(t=t, log_price=log_price, gas_spell=gas_spell,
                                                                 market=market), params)
            return (t + 1, log_price + world.log_return, world.gas_spell, market), world

        def finish(state, world_carry):
            return metrics.episode_metrics(state._replace(market=world_carry[3]), params)
        return EpisodeWorld(draw=price.draw, step=world_step, finish=finish, derived=price.RETURN_BOUNDS,
                            derive=price.return_bounds)

    def finish_history(state, cursor):
        return history.episode_metrics((state, cursor), params)
    return EpisodeWorld(draw=history.draw, step=history.world_stepper(state, episode, params), finish=finish_history)


def run_steps(state: SimState, world_carry, first_step, n_steps: int, episode: jax.Array, params: SimParams,
              spec: RolloutSpec):
    """`n_steps` (static) steps of the episode from `state` and `world_carry` at step `first_step` (a traced or
    Python int: the state's `t`): ((state, world carry) after them, the path when spec.record_path).

    Equivalent to scanning `env.step`, but in blocks of steps, each in three parts. The block's draws are
    computed together (inside one step XLA would re-inline the hash and Box-Muller into every fusion that
    uses a draw: about a dozen copies per step), from step hashes computed first in a loop of their own. The world's moves, which depend on the episode's draws
    only and never on the agent, are computed next in a loop of their own and handed to the agent's loop
    as data (in one loop XLA recomputed each move in every fusion that read it). The agent's loop returns
    each step's attribution, and the per-owner totals take the block's in step order (the same sums as
    adding each as it comes: in the loop, one-hot updates of vectors cost about a tenth of a step).
    """
    episode_world_ = episode_world(state, episode, params)
    draw, world_step, derive = episode_world_.draw, episode_world_.step, episode_world_.derive
    key, dtype = state.episode.counter_key, state.log_price.dtype
    constants = {id(leaf) for leaf in jax.tree.leaves((params, state.episode))}
    constant_fields = {}   # fields of the world's move that are the episode's or the params' own arrays

    def world_loop_step(carry, draws):
        carry, world = world_step(carry, draws)
        constant_fields.update({name: value for name, value in world._asdict().items() if id(value) in constants})
        # not stored per step (None: no array): the constants, and what the agent's loop derives from the rest
        return carry, world._replace(**dict.fromkeys(constant_fields), **dict.fromkeys(episode_world_.derived))

    def agent_step(state, world):
        state, record, attribution = env.advance_unattributed(state, derive(world._replace(**constant_fields)), params,
                                                              spec.gating, spec.classifier)
        return state, (env.pack_attribution(attribution), record if spec.record_path else None)

    def block(carry, first_step, length):
        state, world_carry = carry
        steps = first_step + jnp.arange(length, dtype=jnp.int32)
        hashes = jax.lax.map(lambda t: noise.step_hash(key, t), steps)   # stored once, read by every stream
        draws = jax.vmap(lambda h: draw(key, h, dtype))(hashes)
        world_carry, worlds = jax.lax.scan(world_loop_step, world_carry, draws)
        state, (attributions, path) = jax.lax.scan(agent_step, state, worlds)
        totals = state.totals
        for index in range(length):
            totals = env.attribute(totals, env.unpack_attribution(jax.tree.map(lambda x: x[index], attributions)))
        return (state._replace(totals=totals), world_carry), path

    n_blocks, remainder = divmod(n_steps, DRAW_BLOCK_STEPS)
    firsts = first_step + jnp.arange(n_blocks, dtype=jnp.int32) * DRAW_BLOCK_STEPS
    carry, path = jax.lax.scan(lambda c, t0: block(c, t0, DRAW_BLOCK_STEPS), (state, world_carry), firsts)
    if spec.record_path:
        path = jax.tree.map(lambda x: x.reshape((n_blocks * DRAW_BLOCK_STEPS,) + x.shape[2:]), path)
    if remainder:
        carry, tail = block(carry, first_step + jnp.int32(n_blocks * DRAW_BLOCK_STEPS), remainder)
        if spec.record_path:
            path = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), path, tail)
    return carry, path


def finish_episode(state: SimState, world_carry, episode: jax.Array, params: SimParams) -> dict[str, jax.Array]:
    """The episode's metrics from its state and world carry after its last step."""
    return episode_world(state, episode, params).finish(state, world_carry)


def rollout_episode(seed: jax.Array, episode: jax.Array, params: SimParams, spec: RolloutSpec):
    """One whole episode: `episode_start`, then `run_steps` over all its steps, then `finish_episode`."""
    state, world_carry = episode_start(seed, episode, params, spec)
    (state, world_carry), path = run_steps(state, world_carry, 0, spec.n_steps, episode, params, spec)
    return finish_episode(state, world_carry, episode, params), path


def rollout_checkpointed(seed: jax.Array, episode: jax.Array, params: SimParams, spec: RolloutSpec):
    """`rollout_episode` in units of K = spec.checkpoint_steps steps: (metrics, None, the carry before each
    unit, stacked). A unit is `run_steps` of K steps from the carry the unit before left (the same steps)."""
    carry, steps = episode_start(seed, episode, params, spec), spec.checkpoint_steps

    def unit(carry, first_step):
        return run_steps(*carry, first_step, steps, episode, params, spec)[0], carry

    firsts = jnp.arange(spec.n_steps // steps, dtype=jnp.int32) * steps
    (state, world_carry), checkpoints = jax.lax.scan(unit, carry, firsts)
    return finish_episode(state, world_carry, episode, params), None, checkpoints


CHUNK_EPISODES = 1024  # CPU: episodes advanced together; a chunk and its blocks of moves stay in L2 (2,048: -15-25 %)
ACCELERATOR_CHUNK_EPISODES = 1 << 20  # GPU/TPU: one wide vmap per device (thousands of lanes), chunked only beyond this
BATCH_EPISODES = jax_setup.BATCH_EPISODES  # episodes per call when streaming (`simulate_batches`)


def chunk_limit(platform: str) -> int:
    """Most episodes one device advances together: cache-sized on a CPU, as wide as possible elsewhere."""
    return CHUNK_EPISODES if platform == "cpu" else ACCELERATOR_CHUNK_EPISODES


def default_batch_episodes() -> int:
    return BATCH_EPISODES["cpu" if jax.default_backend() == "cpu" else "accelerator"]


def _layout(n_episodes: int) -> tuple[int, int, int]:
    """(devices, chunks per device, episodes per chunk) covering n_episodes, padded up. On a CPU the
    chunks are walked one after another; on an accelerator one chunk holds all of a device's episodes
    (up to ACCELERATOR_CHUNK_EPISODES), so 1 M episodes do not become 489 sequential steps."""
    n_devices = min(jax.local_device_count(), n_episodes)
    per_device = -(-n_episodes // n_devices)
    n_chunks = -(-per_device // chunk_limit(jax.default_backend()))
    return n_devices, n_chunks, -(-per_device // n_chunks)  # equal chunks: padding below one episode per chunk


def lane_program(per_lane: Callable, n_lanes: int):
    """`per_lane(shared, lane)` over n_lanes lanes (padded up: `_layout`): (the function of (shared, lanes),
    the lanes' sharding, padded lanes). `lanes` is a pytree whose leaves have the lane axis first; `shared`
    is the same for every lane. Lanes are vmapped in chunks that `lax.map` walks through one after another
    (on a CPU a chunk's whole state stays in cache; at 100k episodes one flat vmap is memory-bound and 3x
    slower; on an accelerator a device's lanes are one chunk), and the chunks are split over devices with
    `shard_map`."""
    n_devices, n_chunks, chunk = _layout(n_lanes)
    per_chunk = jax.vmap(per_lane, in_axes=(None, 0))

    def per_device(shared, lanes):
        blocks = jax.tree.map(lambda x: x.reshape((n_chunks, chunk) + x.shape[1:]), lanes)
        out = jax.lax.map(lambda block: per_chunk(shared, block), blocks)
        return jax.tree.map(lambda x: x.reshape((n_chunks * chunk,) + x.shape[2:]), out)

    mesh = jax.sharding.Mesh(np.array(jax.local_devices()[:n_devices]), ("episodes",))
    by_lane = PartitionSpec("episodes")
    sharded = jax.shard_map(per_device, mesh=mesh, in_specs=(PartitionSpec(), by_lane), out_specs=by_lane,
                            check_vma=False)
    return sharded, NamedSharding(mesh, by_lane), n_devices * n_chunks * chunk


@functools.lru_cache(maxsize=32)
def compiled_batch(spec: RolloutSpec):
    """The jitted batch for a spec: (seed words, episode indices, rule masks, params) -> per-episode metrics
    (and path; and the checkpoints where spec.checkpoint_steps). Each episode carries its own
    `AgentParams.rule_enabled` row (counterfactual runs switch a rule off in some episodes only: one call, one
    compile, for any mix). Episodes are the lanes of `lane_program`."""
    rollout = rollout_checkpointed if spec.checkpoint_steps else rollout_episode

    def episode(shared, lane):
        (seed, params), (index, rule_enabled) = shared, lane
        params = params._replace(agent=params.agent._replace(rule_enabled=rule_enabled))
        return rollout(seed, index, params, spec)

    program, sharding, padded = lane_program(episode, spec.n_episodes)
    return jax.jit(lambda seed, episodes, rule_enabled, params: program((seed, params), (episodes, rule_enabled))), \
        sharding, padded


def cast_params(params: SimParams, dtype: str) -> SimParams:
    """Floating leaves in the spec's dtype (ints and flags untouched)."""
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, params)


MAX_EPISODE_INDEX = 1 << 32  # episode indices are uint32: fold_in's data word


def _episode_indices(spec: RolloutSpec, episode_offset: int, episodes, padded: int) -> np.ndarray:
    """uint32 indices of a batch's `padded` lanes: episode_offset .. + n_episodes - 1, or the given `episodes`;
    padding lanes (computed and dropped, never returned) continue the range or repeat the last episode."""
    if episodes is None:
        if not (0 <= episode_offset and episode_offset + spec.n_episodes <= MAX_EPISODE_INDEX):
            raise ValueError(f"episodes {episode_offset}..{episode_offset + spec.n_episodes - 1}: "
                             f"episode indices must lie in [0, 2^32)")
        indices = (np.arange(padded, dtype=np.uint64) + episode_offset) % MAX_EPISODE_INDEX
        return indices.astype(np.uint32)
    episodes = np.asarray(episodes).reshape(-1)
    if len(episodes) != spec.n_episodes:
        raise ValueError(f"{len(episodes)} episode indices for a batch of {spec.n_episodes}")
    if len(episodes) and not (np.issubdtype(episodes.dtype, np.integer) and episodes.min() >= 0
                              and int(episodes.max()) < MAX_EPISODE_INDEX):
        raise ValueError("episode indices must be integers in [0, 2^32)")
    fill = episodes[-1] if len(episodes) else 0
    return np.concatenate([episodes, np.full(padded - len(episodes), fill)]).astype(np.uint32)


def _rule_masks(spec: RolloutSpec, params: SimParams, rule_enabled, padded: int) -> np.ndarray:
    """(padded, n_rules) bool: each lane's enabled rules, the params' own where `rule_enabled` is None."""
    own = np.asarray(params.agent.rule_enabled, dtype=bool)
    if rule_enabled is None:
        return np.broadcast_to(own, (padded,) + own.shape)
    masks = np.asarray(rule_enabled, dtype=bool)
    if masks.shape != (spec.n_episodes,) + own.shape:
        raise ValueError(f"rule_enabled has shape {masks.shape}; expected {(spec.n_episodes,) + own.shape}")
    return np.concatenate([masks, np.broadcast_to(own, (padded - spec.n_episodes,) + own.shape)])


def run(spec: RolloutSpec, params: SimParams, seed: int, episode_offset: int = 0, episodes=None,
        rule_enabled=None):
    """Device arrays of one batch (no host transfer): for benchmarks and composition. Episodes are
    `episode_offset .. episode_offset + n_episodes - 1`: a shard of a larger campaign is the same episodes;
    or `episodes`, n_episodes indices in any order (a market path depends only on seed, index and world, so
    an episode is the same wherever it runs). `rule_enabled`, (n_episodes, n_rules) bool, gives each episode
    its own enabled rules instead of `params.agent.rule_enabled` (the same compiled batch either way)."""
    out = _dispatch(spec, params, seed, episode_offset, episodes, rule_enabled)
    with precision.scope():
        return jax.tree.map(lambda x: x[: spec.n_episodes], out)  # drop the padding episodes


def _dispatch(spec: RolloutSpec, params: SimParams, seed: int, episode_offset: int = 0, episodes=None,
              rule_enabled=None):
    """`run`'s device arrays with the padding lanes still in: returned while XLA computes them."""
    with precision.scope():
        fn, args = _batch_call(spec, params, seed, episode_offset, episodes, rule_enabled)
        return program_cache.call(fn, repr(spec), *args)   # fn(*args), not traced again on a repeated run


def _batch_call(spec: RolloutSpec, params: SimParams, seed: int, episode_offset: int = 0, episodes=None,
                rule_enabled=None) -> tuple[Callable, tuple]:
    """(the compiled batch of the spec, its arguments for this call), inside `precision.scope()`."""
    padded = math.prod(_layout(spec.n_episodes))
    indices = _episode_indices(spec, episode_offset, episodes, padded)   # bad input fails before any compile
    masks = _rule_masks(spec, params, rule_enabled, padded)
    fn, sharding, _ = compiled_batch(spec)
    args = (jnp.asarray(noise.seed_words(seed)), jax.device_put(jnp.asarray(indices), sharding),
            jax.device_put(jnp.asarray(masks), sharding), cast_params(params, spec.dtype))
    return fn, args


def compile_ahead(spec: RolloutSpec, params: SimParams, seed: int) -> None:
    """Start compiling the batch of `spec` on a worker thread (hbbatch.program_cache.prepare): a later `run`
    of the spec (any episodes, seed or params of the same form) uses it instead of compiling."""
    with precision.scope():
        fn, args = _batch_call(spec, params, seed)
        program_cache.prepare(fn, repr(spec), *args, context=precision.scope)


def simulate(spec: RolloutSpec, params: SimParams, seed: int, episode_offset: int = 0, episodes=None,
             rule_enabled=None) -> SimResult:
    """Run a batch and return host tables: one row per episode, one row per (episode, owner).
    `episodes` and `rule_enabled` as in `run`."""
    # fetched before the padding is dropped: slicing a device array still being computed waits in XLA, where
    # a Ctrl-C cannot be raised (`fetch`); on the host it is a view
    padded = fetch(_dispatch(spec, params, seed, episode_offset, episodes, rule_enabled))
    out, path, *carry = jax.tree.map(lambda x: x[: spec.n_episodes], padded)
    n = spec.n_episodes
    index = (np.arange(episode_offset, episode_offset + n, dtype=np.int64) if episodes is None
             else np.asarray(episodes).reshape(-1).astype(np.int64))
    checkpoints = Checkpoints(spec.checkpoint_steps, index, carry[0]) if carry else None
    return SimResult(*tables(out, index), path=path if spec.record_path else None, checkpoints=checkpoints)


WAIT_S = 0.5   # how long the main thread waits on a batch at a time between looks at a Ctrl-C


def fetch(tree):
    """`jax.device_get(tree)` of a batch's outputs (still being computed: dispatch is asynchronous), waited
    for on a helper thread so that the main thread stays where Python can raise a Ctrl-C: blocked in XLA
    (an operation on an array still being computed waits there) it could not, and a SIGINT 25 s into a
    300,000 x 2,000 float64 run took effect 27-36 s later, when the batch was done."""
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (jax.block_until_ready(tree), done.set()), daemon=True,
                              name="hbbatch-wait")
    waiter.start()
    while not done.wait(WAIT_S):
        if not waiter.is_alive():   # it failed: the error is raised by device_get below
            break
    return jax.device_get(tree)


def tables(out: dict[str, np.ndarray], index: np.ndarray) -> tuple[dict, dict]:
    """(episodes, rules) host tables of a batch's metrics `out` for the episodes `index`."""
    n = len(index)
    episodes = {"episode": index,
                "regime": np.asarray(REGIMES, dtype=object)[np.asarray(out["regime"])]}
    for key, value in out.items():
        if key == "regime" or key.startswith("rule_"):
            continue
        episodes[key] = np.asarray(value)
    episodes["actions"] = episodes["actions"].astype(np.int64)
    episodes["widens"] = episodes["widens"].astype(np.int64)
    episodes["emergency_stops"] = episodes["emergency_stops"].astype(np.int64)
    n_owners = len(OWNERS)
    rules = {
        "episode": np.repeat(index, n_owners),
        "rule": np.tile(np.asarray(OWNERS, dtype=object), n),
        "fires": np.asarray(out["rule_fires"]).reshape(-1).astype(np.int64),
        "actions": np.asarray(out["rule_actions"]).reshape(-1).astype(np.int64),
        "gas_usd": np.asarray(out["rule_gas_usd"]).reshape(-1),
        "attributed_pnl_usd": np.asarray(out["rule_pnl_usd"]).reshape(-1),
    }
    return episodes, rules


def join_checkpoints(parts: list[Checkpoints]) -> Checkpoints:
    """Batches' checkpoints as one."""
    return Checkpoints(parts[0].steps, np.concatenate([p.episodes for p in parts]),
                       jax.tree.map(lambda *x: np.concatenate(x), *[p.carry for p in parts]))


def _head(result: SimResult, n: int) -> SimResult:
    n_owners, saved = len(OWNERS), result.checkpoints
    return SimResult(episodes={k: v[:n] for k, v in result.episodes.items()},
                     rules={k: v[: n * n_owners] for k, v in result.rules.items()},
                     path=None if result.path is None else jax.tree.map(lambda x: x[:n], result.path),
                     checkpoints=None if saved is None else saved._replace(
                         episodes=saved.episodes[:n], carry=jax.tree.map(lambda x: x[:n], saved.carry)))


def batch_layout(n_episodes: int, batch_episodes: int | None = None) -> tuple[int, int]:
    """(batches, episodes per batch) for streaming n_episodes: equal batches, so one compile serves all."""
    limit = max(int(batch_episodes or default_batch_episodes()), 1)
    n_batches = -(-n_episodes // limit)
    return n_batches, -(-n_episodes // n_batches)


def simulate_batches(spec: RolloutSpec, params: SimParams, seed: int, episode_offset: int = 0,
                     batch_episodes: int | None = None) -> Iterator[SimResult]:
    """`simulate` of episodes episode_offset .. episode_offset + spec.n_episodes - 1, yielded in consecutive
    batches (host memory bounded by one batch: for streaming 10 M episodes to disk). The rows are those of
    one `simulate` call over the whole range, in the same order."""
    n_batches, per_batch = batch_layout(spec.n_episodes, batch_episodes)
    batch_spec = dataclasses.replace(spec, n_episodes=per_batch)
    for index in range(n_batches):
        start = index * per_batch
        result = simulate(batch_spec, params, seed, episode_offset + start)
        yield _head(result, min(per_batch, spec.n_episodes - start))


def simulate_episodes(spec: RolloutSpec, params: SimParams, seed: int, episodes,
                      rule_enabled=None) -> Iterator[SimResult]:
    """`simulate` of the given episode indices (any number, any order), each with its own enabled rules
    where `rule_enabled` ((len(episodes), n_rules) bool) is given, in calls of spec.n_episodes: the last
    call padded to the same shape, so one compiled batch serves any set (a job's counterfactual runs reuse
    the job's own). Yields one result per call, rows in the order given."""
    episodes = np.asarray(episodes).reshape(-1)
    masks = None if rule_enabled is None else np.asarray(rule_enabled, dtype=bool)
    if masks is not None and len(masks) != len(episodes):
        raise ValueError(f"rule_enabled has {len(masks)} rows for {len(episodes)} episodes")
    size = spec.n_episodes
    for start in range(0, len(episodes), size):
        part = episodes[start:start + size]
        n = len(part)
        part = np.concatenate([part, np.full(size - n, part[-1])])   # padding: computed and dropped
        part_masks = None
        if masks is not None:
            last = masks[start + n - 1:start + n]
            part_masks = np.concatenate([masks[start:start + size], np.repeat(last, size - n, axis=0)])
        yield _head(simulate(spec, params, seed, episodes=part, rule_enabled=part_masks), n)
