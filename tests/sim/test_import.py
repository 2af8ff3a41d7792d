"""Importing the simulator changes no process-wide JAX setting; float64 still works."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import json, os
    import jax
    def settings():
        return {name: repr(value) for name, value in sorted(jax.config.values.items())}
    env_before, jax_before = dict(os.environ), settings()
    import hbbatch.sim, hbbatch.sim.rollout, hbbatch.campaign.job
    from hbbatch.sim import RolloutSpec, make_params, simulate
    changed = sorted(k for k in jax_before if settings()[k] != jax_before[k])
    env_changed = sorted(k for k in set(env_before) | set(os.environ) if env_before.get(k) != os.environ.get(k))
    result = simulate(RolloutSpec(n_episodes=4, n_steps=8, dtype="float64"), make_params(dtype="float64"), 1)
    print(json.dumps({"changed": changed, "env_changed": env_changed, "x64": bool(jax.config.jax_enable_x64),
                      "dtype": str(result.episodes["net_pnl_usd"].dtype), "devices": jax.local_device_count()}))
""")


def test_import__leaves_jax_config_and_xla_flags_untouched():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(Path.home()), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    import json
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["changed"] == [] and report["env_changed"] == []
    assert report["x64"] is False and report["devices"] == 1    # nobody switched them on behind our back
    assert report["dtype"] == "float64"                          # ... and float64 runs still are float64
