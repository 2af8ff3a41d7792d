import jax
import jax.numpy as jnp
import numpy as np

from hbbatch.sim import noise


def _draws(n_episodes=2000, n_steps=50, n=4):
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
    z1, z2 = noise.normal_pair(jnp.asarray(u[:, 0]), jnp.asarray(u[:, 1]))
    z = np.concatenate([np.asarray(z1), np.asarray(z2)])
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(z**4) - 3.0) < 0.1       # normal kurtosis
    assert abs(np.corrcoef(np.asarray(z1), np.asarray(z2))[0, 1]) < 0.01
