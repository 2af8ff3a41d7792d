"""The GARCH's maximum likelihood: arch's own likelihood, an optimum at least as likely as arch's fit, and
the same bits whatever OpenBLAS's thread count and kernel (arch's SLSQP moves from the 4th digit on)."""

import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from arch import arch_model

from hbbatch.calibration import likelihood

REPO = Path(__file__).resolve().parents[2]


def _heavy_tailed_garch(n=30_000, omega=0.02, alpha=0.07, beta=0.9, seed=5):
    """Percent returns with Student-t(4) innovations: the data's kind, whose ridge is flat."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4, n) / math.sqrt(2.0)
    out, h = np.empty(n), omega / (1 - alpha - beta)
    for t in range(n):
        out[t] = 0.01 + math.sqrt(h) * shocks[t]
        h = omega + alpha * (out[t] - 0.01) ** 2 + beta * h
    return out


@pytest.mark.parametrize("dist, params", [("normal", [0.01, 0.02, 0.07, 0.9]),
                                          ("t", [0.01, 0.02, 0.07, 0.9, 4.0])])
def test_log_likelihood_of__is_arch_fixed_results(dist, params):
    model = arch_model(_heavy_tailed_garch(5_000), mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False)
    log_likelihood = likelihood.log_likelihood_of(model, np.array(params))
    for shift in (1.0, 1.1, 0.9):
        trial = np.array(params) * shift
        assert log_likelihood(trial) == model.fix(trial).loglikelihood


@pytest.mark.parametrize("dist", ["normal", "t"])
def test_maximise__is_at_least_as_likely_as_arch_fit(dist):
    returns = _heavy_tailed_garch()
    model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False)
    start = likelihood.garch_start(returns)
    fit = likelihood.maximise(model, start if dist == "normal" else np.append(start, 4.0), likelihood.garch_feasible)
    reference = model.fit(disp="off")
    assert fit["converged"] and fit["log_likelihood"] >= reference.loglikelihood - 1e-6
    np.testing.assert_allclose(fit["params"], reference.params.to_numpy(), rtol=0.02)   # the same optimum
    np.testing.assert_allclose(fit["std_err"], reference.std_err.to_numpy(), rtol=0.05)
    assert fit["params"][2] == pytest.approx(0.07, abs=0.02) and fit["params"][3] == pytest.approx(0.9, abs=0.03)


def test_maximise__a_search_stopped_short_is_not_converged():
    returns = _heavy_tailed_garch()
    model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    # a start on the wrong side of the stationarity wall, capped at a few likelihoods
    capped = likelihood.MAX_EVALUATIONS
    try:
        likelihood.MAX_EVALUATIONS = 20
        fit = likelihood.maximise(model, np.array([0.0, 1.0, 0.01, 0.5]), likelihood.garch_feasible)
    finally:
        likelihood.MAX_EVALUATIONS = capped
    assert not fit["converged"]


FIT = """
import json
import pandas as pd
from tests.calibration.test_likelihood import _heavy_tailed_garch
from hbbatch.calibration.world import fit_garch
returns = pd.Series(_heavy_tailed_garch() / 100.0, index=pd.date_range("2020-01-01", periods=30_000, freq="h", tz="UTC"))
fit = fit_garch(returns)
print(json.dumps({k: float(fit[k]).hex() for k in ("alpha", "beta", "omega_per_hour", "mean_per_hour", "log_likelihood")}
                 | {"nu": fit["student_t"]["nu"].hex()}))
"""


def test_fit_garch__the_same_bits_whatever_openblas_threads_and_kernel():
    settings = [{"OPENBLAS_NUM_THREADS": "1"}, {"OPENBLAS_NUM_THREADS": "2"}]
    if platform.machine() == "x86_64":   # SSE3: the oldest kernel, on every x86-64 CPU
        settings.append({"OPENBLAS_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Prescott"})
    found = []
    for setting in settings:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")} | setting
        done = subprocess.run([sys.executable, "-c", FIT], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        found.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert all(fit == found[0] for fit in found), found
