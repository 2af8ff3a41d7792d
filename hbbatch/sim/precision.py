"""64-bit floats for the simulator's own work, without a process-wide JAX setting.

JAX truncates float64 to float32 unless `jax_enable_x64` is on. Setting it at import would change every
other JAX user in the process, so the simulator's entry points (`make_params`, `rollout.run`) switch it
on only for their own tracing and array creation, with JAX's thread-local context manager. float32
arrays stay float32 inside (every array the step creates names its dtype).
"""

from __future__ import annotations

import contextlib

import jax


def scope() -> contextlib.AbstractContextManager:
    """The context the simulator builds and runs its arrays in."""
    return jax.enable_x64(True)


def array(value, dtype) -> jax.Array:
    """`jnp.asarray(value, dtype)` that keeps float64 as float64 whatever the process's setting."""
    with scope():
        return jax.numpy.asarray(value, dtype=dtype)
