"""Start-up: the roadmap's environment variables must not import jax before the compile cache is set."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_env_vars__parsing_the_regime_mix_does_not_import_jax():
    code = ("import sys; from hbbatch.env_vars import parse_regime_mix; "
            "parse_regime_mix('mean_revert:0.4,jumpy:0.3,trend_up:0.3'); print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli__compile_cache_fills_with_the_roadmap_variables_set(tmp_path):
    cache = tmp_path / "jax-cache"
    env = {**os.environ, "HB_REGIME_MIX": "mean_revert:0.4,jumpy:0.3,trend_up:0.3", "HB_SEED": "7",
           "JAX_COMPILATION_CACHE_DIR": str(cache)}
    subprocess.run([sys.executable, "-m", "hbbatch", "n_episodes=4", "n_steps=10", "report.html=false", "world.validate=false",
                    f"paths.output_dir={tmp_path / 'out'}"], cwd=REPO, env=env, capture_output=True, check=True)
    assert cache.is_dir() and any(cache.iterdir())


def test_cli__default_compile_cache_is_versioned_and_bounded(tmp_path):
    from importlib.metadata import version

    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "home-cache")
    subprocess.run([sys.executable, "-m", "hbbatch", "n_episodes=4", "n_steps=10", "report.html=false",
                    "world.validate=false", f"paths.output_dir={tmp_path / 'out'}"], cwd=REPO, env=env,
                   capture_output=True, check=True)
    cache = tmp_path / "home-cache" / "hbbatch" / f"jax-{version('jax')}"
    names = [p.name for p in cache.iterdir()]
    # JAX writes an access-time file beside each program only when its LRU eviction is on
    assert any(n.endswith("-cache") for n in names) and any(n.endswith("-atime") for n in names)
