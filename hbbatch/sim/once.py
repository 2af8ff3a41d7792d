"""Step values that XLA should compute once.

XLA's CPU compiler has no multi-output loop fusion: an elementwise value that several kernels read is either
stored once or, when its chain looks cheap (compares, selects, adds), recomputed inside every kernel that reads
it, each copy reading the chain's inputs again. The rails' outcome ends such a chain (the policy's EV gate and
the rails' checks: about 60 operations on about 40 arrays) and a dozen kernels of the step read it; a world
move's log return is read by four. A running sum (XLA's reduce-window) is always stored, never copied into its
readers: `stored` passes a value through the first element of a two-element running sum (0 + x: x itself,
but for the sign of a zero and a subnormal, which XLA's CPU arithmetic flushes to zero anyway), and
`computed_once` packs small integers and flags into one stored integer. Under `vmap` the two-element axis is
put first (a custom batching rule): batched as usual it came last, and the kernel computing the value wrote an
(episodes, 1) array whose innermost loop ran over one element, in scalar code.

A choice among a few flags is not made by a reduction over them (`argmax`, `any` over a stacked axis): XLA's
CPU compiler emits a reduction over a short trailing axis, with every elementwise chain fused into it, as a
scalar loop (jnp.argmax also carries int64 indices where 64-bit types are on). `first_true` packs the flags into
the bits of one stored integer instead and finds the lowest set bit elementwise.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def _running_sum_first(value: jax.Array) -> jax.Array:
    return jnp.cumsum(jnp.stack([value, jnp.zeros_like(value)]), axis=0)[0]


@jax.custom_batching.custom_vmap
def stored(value: jax.Array) -> jax.Array:
    """`value` (0 + value), computed once per step whatever reads it."""
    return _running_sum_first(value)


@stored.def_vmap
def _stored_batched(axis_size, in_batched, value):
    # the two-element axis leads, so the kernel that computes `value` writes whole vectors of episodes (vmapped
    # as is, the axis trailed and that kernel's innermost loop ran over one element: scalar code)
    return _running_sum_first(value), in_batched[0]


def computed_once(values: tuple[jax.Array, ...], widths: tuple[int, ...]) -> tuple[jax.Array, ...]:
    """`values` unchanged (bools, or non-negative ints below 2^width), computed once per step whatever reads them."""
    shifts = [sum(widths[:i]) for i in range(len(widths))]
    if shifts[-1] + widths[-1] > 31:
        raise ValueError(f"computed_once: {shifts[-1] + widths[-1]} bits do not fit an int32")
    packed = stored(sum(value.astype(jnp.int32) << shift for value, shift in zip(values, shifts)))
    # each reader unpacks what it reads: a flag by one `and` and a compare, a field at bit 0 by one `and`
    return tuple((packed & (1 << shift)) != 0 if value.dtype == jnp.bool_ else
                 ((packed if shift == 0 else packed >> shift) & ((1 << width) - 1)).astype(value.dtype)
                 for value, shift, width in zip(values, shifts, widths))


def first_true(flags: tuple[jax.Array, ...]) -> tuple[jax.Array, jax.Array]:
    """(index of the first true flag, 0 when none, as int32; whether any is true), as `argmax` and `any` of
    the stacked flags, computed once per step whatever reads them (at most 31 flags)."""
    if len(flags) > 25:
        raise ValueError(f"first_true: {len(flags)} flags do not fit an int32 with their index")
    bits = sum(flag.astype(jnp.int32) << i for i, flag in enumerate(flags))
    lowest = bits & -bits                                       # the lowest set bit alone (0 when none)
    index = jnp.maximum(31 - lax.clz(lowest), 0)               # clz(0) = 32: index 0 when none, as argmax
    return computed_once((index, bits != 0), (5, 1))            # readers unpack, not find the bit again
