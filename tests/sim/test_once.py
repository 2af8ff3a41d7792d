"""`once`: values passed through unchanged, and computed once in the compiled step (what it is for)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hbbatch.sim import once, precision


def test_once__flags_and_small_ints_come_back_unchanged():
    rng = np.random.default_rng(0)
    kind = jnp.asarray(rng.integers(0, 8, 1000), jnp.int32)
    flags = [jnp.asarray(rng.random(1000) < p) for p in (0.1, 0.5, 0.9)]
    out = jax.jit(jax.vmap(lambda k, a, b, c: once.computed_once((k, a, b, c), (3, 1, 1, 1))))(kind, *flags)
    for got, want in zip(out, (kind, *flags)):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_once__a_stored_float_is_the_same_number(dtype):
    with precision.scope():
        values = np.random.default_rng(1).normal(size=1000) * 10.0 ** np.random.default_rng(2).integers(-30, 30, 1000)
        x = jnp.asarray(np.concatenate([values, [0.0, np.inf, -np.inf, 2e-38, -3.5]]), dtype)
        np.testing.assert_array_equal(jax.jit(jax.vmap(once.stored))(x), x)


def test_once__too_many_bits_is_an_error():
    with pytest.raises(ValueError, match="do not fit"):
        once.computed_once((jnp.int32(1), jnp.int32(2)), (16, 16))


def test_once__a_value_read_by_several_kernels_is_computed_in_one():
    """A chain of compares and selects read by three outputs of a loop: XLA copies it into each reader,
    unless it is stored."""
    def chain(x, y):
        for i in range(12):
            x = jnp.where(x > y * (i + 1), x * 1.5 - y, x + y * 0.5)
        return x > 0.3

    def selects(materialise):
        def step(carry, _):
            x, y, a, b, d = carry
            (c,) = once.computed_once((chain(x, y),), (1,)) if materialise else (chain(x, y),)
            return (x * 1.0001, y, a + c, jnp.where(c, b * 2, b), jnp.where(c, d, d + 1.0)), None

        def episode(x, y):
            return jax.lax.scan(step, (x, y, x, y, x), None, length=4)[0]

        text = jax.jit(jax.vmap(episode)).lower(jnp.ones(64), jnp.ones(64)).compile().as_text()
        return text.count(" select(")

    assert selects(False) >= 3 * 12     # the chain in each of the three readers
    assert selects(True) <= 12 + 4      # once, and the readers' own selects


def test_once__first_true_is_argmax_and_any_of_the_flags():
    rng = np.random.default_rng(3)
    flags = jnp.asarray(rng.random((4000, 5)) < rng.choice([0.0, 0.1, 0.5], size=(4000, 1)))   # all-false rows too
    index, anything = jax.jit(jax.vmap(lambda row: once.first_true(tuple(row))))(flags)
    assert index.dtype == jnp.int32 and anything.dtype == jnp.bool_
    np.testing.assert_array_equal(index, np.argmax(np.asarray(flags), axis=1))
    np.testing.assert_array_equal(anything, np.asarray(flags).any(axis=1))
    assert (~np.asarray(anything)).sum() > 100       # the case argmax answers 0 for is covered


def test_once__stored_under_nested_vmaps_and_unbatched():
    x = jnp.asarray(np.random.default_rng(4).normal(size=(3, 7, 5)), jnp.float32)
    np.testing.assert_array_equal(jax.jit(jax.vmap(jax.vmap(jax.vmap(once.stored))))(x), x)
    np.testing.assert_array_equal(jax.jit(once.stored)(x), x)
    np.testing.assert_array_equal(jax.jit(jax.vmap(once.stored, in_axes=1, out_axes=1))(x), x)
