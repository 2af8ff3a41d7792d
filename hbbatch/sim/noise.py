"""Counter-based random numbers for the market: a stateless hash of (episode key, step, stream).

Why not `jax.random` per step: splitting or folding a threefry key every step of every episode costs
about 12x more than the whole step (13 M vs 160 M draws/s measured on 2 CPU cores). Threefry still
seeds each episode (`episode_key`), so episodes are independent streams; within an episode, draws
come from Wellons' `lowbias32` integer hash of the step counter, which has near-ideal avalanche and
passes the moment and correlation checks in tests/sim/test_noise.py. Because a draw depends only on
(seed, episode, step, stream), the market path is the same whatever the agent does.

Episode keys are 64 bits: the two words of threefry's `fold_in(key(seed), episode)`. Threefry is a
bijection of its 64-bit counter block for a fixed key, so within one seed no two episodes below 2^32
share a key (a 32-bit key gave 111 identical pairs in 1 M episodes, by the birthday bound). Both words
enter every step's hash. Seeds are 64-bit too: `seed_words` splits them as `jax.random.key` does with
64-bit integers enabled, without needing that setting.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_GOLDEN = 0x9E3779B9
_STREAM = 0x632BE5AB


def lowbias32(x: jax.Array) -> jax.Array:
    """Wellons' 32-bit integer finaliser (bias about 0.17 of the ideal's)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


SEED_LIMIT = 1 << 64


def seed_words(seed: int) -> np.ndarray:
    """A seed in [0, 2^64) as threefry key data (high word, low word): what `jax.random.key(seed)` holds."""
    seed = int(seed)
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"seed={seed}: use an integer in [0, 2^64)")
    return np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)


def episode_key(seed: int | jax.Array, episode: jax.Array) -> jax.Array:
    """The (2,) uint32 counter key of one episode: threefry's fold_in of the episode index into the seed's
    key. `seed` is an int or its (2,) `seed_words` (traced: one compile for every seed)."""
    words = jnp.asarray(seed_words(seed) if isinstance(seed, int) else seed, jnp.uint32)
    if words.shape != (2,):   # a scalar seed below 2^32 (replay passes 0)
        words = jnp.stack([jnp.zeros((), jnp.uint32), words.astype(jnp.uint32)])
    key = jax.random.fold_in(jax.random.wrap_key_data(words, impl="threefry2x32"), episode)
    return jax.random.key_data(key)


class StepHash(NamedTuple):
    """A step's hash under an episode key (`step_hash`), computed ahead: `uniforms` takes it for the step."""

    base: jax.Array   # () uint32


def step_hash(counter_key: jax.Array, step: jax.Array) -> StepHash:
    """The hash that every stream of the step's uniforms starts from: the step through both key words."""
    counter = lowbias32(step.astype(jnp.uint32) * jnp.uint32(_GOLDEN) + jnp.uint32(1))
    return StepHash(lowbias32(counter_key[0] ^ lowbias32(counter_key[1] ^ counter)))


def uniforms(counter_key: jax.Array, step: jax.Array | StepHash, n: int, dtype) -> jax.Array:
    """`n` independent uniforms in (0, 1) for one step: 23-bit resolution, so that even in float32
    (24-bit significand) the largest value stays below 1 and the smallest above 0. `counter_key` is the
    (2,) episode key: the step hash passes through both words. `step` may be given as its `StepHash`
    (the rollout computes a block's hashes in a loop of their own: left to XLA, the hash was recomputed
    in each of the eight kernels that read a stream of it)."""
    return jnp.stack(uniform_streams(counter_key, step, n, dtype))


def uniform_streams(counter_key: jax.Array, step: jax.Array | StepHash, n: int, dtype) -> tuple[jax.Array, ...]:
    """`uniforms` as a tuple of n arrays, one per stream: what the step's draws use. Vmapped over a block's steps
    inside the vmap over episodes, a stacked stream axis (and jnp's jitted helpers) put the episode axis first,
    so the block's draws were computed transposed, over a trailing axis of one element, and copied back."""
    base = (step if isinstance(step, StepHash) else step_hash(counter_key, step)).base
    bits = [lowbias32(base + jnp.uint32((i * _STREAM) & 0xFFFFFFFF)) for i in range(1, n + 1)]
    return tuple(((b >> 9).astype(dtype) + 0.5) * (1.0 / (1 << 23)) for b in bits)


def turn_cos_sin(u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """cos(2 pi u) and sin(2 pi u) for u in [0, 1), in float32 by polynomials that XLA vectorises.

    XLA compiles float32 `cos` to a scalar library call (about 5 ns an element on this CPU, 10x NumPy's
    vectorised one), the largest single cost of a step. Here the argument is reduced in turns, exactly
    (4u and its nearest integer q are exact in float32), to r = (4u - q) pi/2 in [-pi/4, pi/4], where
    Cephes' minimax polynomials for sinf/cosf are within 1 ulp; the quadrant q rotates the pair.
    """
    t = 4.0 * u
    # lax's round and select, not jnp's jitted helpers (see `uniform_streams`)
    q = lax.round(t, lax.RoundingMethod.TO_NEAREST_EVEN)
    r = (t - q) * jnp.asarray(jnp.pi / 2, u.dtype)
    r2 = r * r
    sin_r = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4))
    cos_r = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3
                                                                      + r2 * 2.443315711809948e-5))
    quadrant = q.astype(jnp.int32) & 3
    cos = lax.select(quadrant == 0, cos_r, lax.select(quadrant == 1, -sin_r, lax.select(quadrant == 2, -cos_r, sin_r)))
    sin = lax.select(quadrant == 0, sin_r, lax.select(quadrant == 1, cos_r, lax.select(quadrant == 2, -sin_r, -cos_r)))
    return cos, sin


def normal_pair(u1: jax.Array, u2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Two independent standard normals from two uniforms (Box-Muller)."""
    radius = jnp.sqrt(-2.0 * jnp.log(u1))
    if u2.dtype == jnp.float32:
        cos, sin = turn_cos_sin(u2)
    else:   # float64: the library's cos (vectorised there), sin from it (a square root is cheaper than sin)
        cos = jnp.cos((2.0 * jnp.pi) * u2)
        sign = jnp.where(u2 < 0.5, jnp.ones_like(u2), -jnp.ones_like(u2))   # sin >= 0 on the first half-turn
        sin = sign * jnp.sqrt(jnp.maximum(1.0 - cos * cos, 0.0))
    return radius * cos, radius * sin
