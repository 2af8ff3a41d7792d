"""Step values that XLA should compute once.

XLA's CPU compiler has no multi-output loop fusion: an elementwise value that several kernels read is either
stored once or, when its chain looks cheap (compares, selects, adds), recomputed inside every kernel that reads
it, each copy reading the chain's inputs again. The rails' outcome ends such a chain (the policy's EV gate and
the rails' checks: about 60 operations on about 40 arrays) and a dozen kernels of the step read it; a world
move's log return is read by four. A running sum (XLA's reduce-window) is always stored, never copied into its
readers: `stored` passes a value through the first element of a two-element running sum (0 + x: x itself,
but for the sign of a zero and a subnormal, which XLA's CPU arithmetic flushes to zero anyway), and `computed_once` packs small integers and flags into one stored integer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def stored(value: jax.Array) -> jax.Array:
    """`value` (0 + value), computed once per step whatever reads it."""
    return jnp.cumsum(jnp.stack([value, jnp.zeros_like(value)]), axis=0)[0]


def computed_once(values: tuple[jax.Array, ...], widths: tuple[int, ...]) -> tuple[jax.Array, ...]:
    """`values` unchanged (bools, or non-negative ints below 2^width), computed once per step whatever reads them."""
    shifts = [sum(widths[:i]) for i in range(len(widths))]
    if shifts[-1] + widths[-1] > 31:
        raise ValueError(f"computed_once: {shifts[-1] + widths[-1]} bits do not fit an int32")
    packed = stored(sum(value.astype(jnp.int32) << shift for value, shift in zip(values, shifts)))
    return tuple(((packed >> shift) & ((1 << width) - 1)).astype(value.dtype)
                 for value, shift, width in zip(values, shifts, widths))
