"""The exit status as a shell sees it: 130 for Ctrl-C even while the simulator is computing (subprocess, as a user)."""

import os
import signal
import subprocess
import sys
import time

from hbbatch import exit_codes
from hbbatch.config import CONF_DIR

REPO = CONF_DIR.parent


def test_ctrl_c_while_the_simulator_computes_exits_130_with_one_line(tmp_path):
    # sys.exit here used to crash in the interpreter's shutdown while XLA's threads still ran (SIGSEGV: 139)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hbbatch", "n_episodes=2000", "n_steps=3000", "world.validate=false",
                             "rule_values.enabled=false", f"hydra.run.dir={tmp_path / 'run'}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    for line in proc.stdout:
        if "simulating" in line or time.time() > deadline:
            break
    time.sleep(3.0)   # compiled (or read from the cache) and running
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == exit_codes.CANCELLED, (proc.returncode, err[-2000:])
    assert err.startswith("hbbatch: cancelled (Ctrl-C)") and err.count("\n") == 1 and "Traceback" not in out + err, err
