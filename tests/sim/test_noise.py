import jax
import jax.numpy as jnp
import numpy as np

from hbbatch.sim import noise, precision


def _draws(n_episodes=2000, n_steps=50, n=4):
    with precision.scope():
        keys = jax.vmap(lambda e: noise.episode_key(7, e))(jnp.arange(n_episodes, dtype=jnp.uint32))
        steps = jnp.arange(n_steps, dtype=jnp.uint32)
        u = jax.vmap(lambda k: jax.vmap(lambda t: noise.uniforms(k, t, n, jnp.float64))(steps))(keys)
        return np.asarray(u)  # (episodes, steps, n)


def test_noise__uniforms_have_uniform_moments_and_bounds():
    u = _draws()
    assert u.min() > 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.002          # s.e. 0.29/sqrt(400k) = 4.6e-4
    assert abs(u.var() - 1 / 12) < 0.001
    # uniform histogram: 20 bins, chi-square well inside its 99.9 % quantile (43.8 for 19 dof)
    counts, _ = np.histogram(u.reshape(-1), bins=20, range=(0, 1))
    expected = u.size / 20
    assert ((counts - expected) ** 2 / expected).sum() < 43.8


def test_noise__draws_are_uncorrelated_across_steps_streams_and_episodes():
    u = _draws() - 0.5
    lag1 = np.mean(u[:, 1:, 0] * u[:, :-1, 0]) / np.var(u)
    stream = np.mean(u[..., 0] * u[..., 1]) / np.var(u)
    episode = np.mean(u[1:, :, 0] * u[:-1, :, 0]) / np.var(u)
    for corr in (lag1, stream, episode):
        assert abs(corr) < 0.01                 # s.e. about 1/sqrt(100k) = 0.003


def test_noise__box_muller_gives_standard_normals():
    u = _draws(n=2).reshape(-1, 2)
    with precision.scope():
        z1, z2 = noise.normal_pair(jnp.asarray(u[:, 0]), jnp.asarray(u[:, 1]))
    z = np.concatenate([np.asarray(z1), np.asarray(z2)])
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(z**4) - 3.0) < 0.1       # normal kurtosis
    assert abs(np.corrcoef(np.asarray(z1), np.asarray(z2))[0, 1]) < 0.01


def test_noise__no_two_of_a_million_episodes_share_a_path():
    """64-bit episode keys: with 32-bit keys, seed 42 gave 111 identical pairs in 1 M episodes (the birthday
    bound: n^2 / 2^33), among them episodes 38085 and 374688. A path is the sequence of a step's draws; two
    episodes that differ in their first two steps' draws do not share a path."""
    n = 1_000_000
    episodes = jnp.arange(n, dtype=jnp.uint32)
    keys = jax.jit(jax.vmap(lambda e: noise.episode_key(42, e)))(episodes)
    first_steps = jax.jit(jax.vmap(lambda k: jnp.stack([
        noise.uniforms(k, jnp.uint32(t), 6, jnp.float32) for t in (0xFFFFFFFF, 0, 1)])))(keys)
    keys, first_steps = np.asarray(keys), np.asarray(first_steps).reshape(n, -1)
    assert keys.shape == (n, 2) and keys.dtype == np.uint32
    assert len(np.unique(keys.view(np.uint64).ravel())) == n
    assert len(np.unique(first_steps.view(np.dtype((np.void, first_steps.itemsize * first_steps.shape[1]))))) == n
    assert not np.array_equal(first_steps[38085], first_steps[374688])


def test_noise__float32_turn_cos_sin_is_within_two_ulp_of_numpy_float64_everywhere():
    """Every uniform the hash can produce (2^23 values): the vectorised polynomial against NumPy's float64."""
    u = ((np.arange(1 << 23, dtype=np.float64) + 0.5) / (1 << 23)).astype(np.float32)
    cos, sin = jax.jit(noise.turn_cos_sin)(jnp.asarray(u))
    angle = 2.0 * np.pi * u.astype(np.float64)
    assert np.abs(np.asarray(cos, np.float64) - np.cos(angle)).max() < 2.4e-7     # 2 ulp of 1 in float32
    assert np.abs(np.asarray(sin, np.float64) - np.sin(angle)).max() < 2.4e-7
