"""Maximum likelihood for an `arch` model that gives the same bits on any x86-64 CPU.

arch's own `fit` (SLSQP with numerical gradients) stops on the GARCH's flat likelihood ridge at a
point that depends on OpenBLAS's thread count and kernel: on the embedded history alpha came out
0.070649 with two threads, 0.070682 with one, 0.070675 with the AVX2 kernel and 0.070708 with SSE3,
so a refit's calibration hash depended on the machine. Here the likelihood is still arch's
(its mean, volatility and distribution: their recursion and sums use no BLAS) and the search is Nelder-Mead
(element-wise arithmetic only) from a start computed from the data alone, so every step, and the
optimum, is the same to the bit whatever the BLAS; the optimum's likelihood is at least arch's
(tests/calibration/test_likelihood.py). Standard errors are arch's robust ones at that optimum.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

# Nelder-Mead stops when the simplex's points and values agree to these (parameters in arch's units:
# percent returns). On the embedded history the normal fit takes about 750 likelihoods in two searches
# (1.4 ms each), the Student-t one about 2,000.
PARAMETER_TOLERANCE = 1e-10
LIKELIHOOD_TOLERANCE = 1e-9
MAX_EVALUATIONS = 40_000
MAX_SEARCHES = 4
SEARCH_GAIN = 1e-6   # log-likelihood units: a fresh search that gains less ends the fit
REFERENCE_TOLERANCE = 1e-3   # log-likelihood units: how far below arch's own optimum the fit may stop


def maximise(model: Any, start: np.ndarray, feasible: Callable[[np.ndarray], bool]) -> dict[str, Any]:
    """The ML parameters of `model` (an arch model) from `start`: params, log_likelihood, the fixed
    result at the optimum (conditional volatility, residuals), robust standard errors, converged."""
    from scipy.optimize import minimize

    log_likelihood = log_likelihood_of(model, start)

    def negative_log_likelihood(params: np.ndarray) -> float:
        if not feasible(params):
            return math.inf
        value = log_likelihood(params)
        return -value if math.isfinite(value) else math.inf

    params, value, evaluations = np.asarray(start, float), -math.inf, 0
    for _ in range(MAX_SEARCHES):   # a fresh simplex from the last optimum, until it gains nothing
        search = minimize(negative_log_likelihood, params, method="Nelder-Mead",
                          options={"xatol": PARAMETER_TOLERANCE, "fatol": LIKELIHOOD_TOLERANCE,
                                   "maxiter": MAX_EVALUATIONS, "maxfev": MAX_EVALUATIONS})
        evaluations += int(search.nfev)
        gain, params, value = -float(search.fun) - value, np.asarray(search.x, float), -float(search.fun)
        if gain <= SEARCH_GAIN:
            break
    fixed = model.fix(params)
    covariance = np.asarray(model.compute_param_cov(params, robust=True), float)
    # arch's own optimum (machine-dependent in its last digits, so not kept) checks that the search did not
    # stop short: the fit counts as converged only where it is at least as likely, within the tolerance.
    reference = model.fit(disp="off")
    return {"params": params, "log_likelihood": float(fixed.loglikelihood), "fixed": fixed,
            "std_err": np.sqrt(np.clip(np.diag(covariance), 0.0, None)), "evaluations": evaluations,
            "converged": bool(search.success and gain <= SEARCH_GAIN
                              and value >= float(reference.loglikelihood) - REFERENCE_TOLERANCE)}


def log_likelihood_of(model: Any, params: np.ndarray) -> Callable[[np.ndarray], float]:
    """params -> the model's log-likelihood, as `model.fix(params).loglikelihood` computes it (the mean's
    residuals, the volatility's variance from arch's backcast and bounds, the distribution's density),
    from arch's public parts without `fix`'s copy of the model per call (about 10x faster). `params` is
    any parameter vector: `fix` is called once, as arch's `fit` would, to set the model's sample."""
    model.fix(np.asarray(params, float))
    volatility, distribution = model.volatility, model.distribution
    residuals = model.resids(model.starting_values())
    backcast, bounds = volatility.backcast(residuals), volatility.variance_bounds(residuals)
    n_mean, n_volatility = model.num_params, volatility.num_params

    def log_likelihood(params: np.ndarray) -> float:
        params = np.asarray(params, float)
        residuals = model.resids(params[:n_mean])
        variance = volatility.compute_variance(params[n_mean:n_mean + n_volatility], residuals,
                                               np.zeros(residuals.shape[0]), backcast, bounds)
        return float(distribution.loglikelihood(params[n_mean + n_volatility:], residuals, variance))

    return log_likelihood


def garch_start(returns: np.ndarray) -> np.ndarray:
    """[mu, omega, alpha, beta] for a GARCH(1,1) with a constant mean: the sample mean, and a typical
    persistence (0.95, alpha 0.05) at the sample variance. Element-wise NumPy: no BLAS."""
    variance = float(np.var(returns))
    alpha, beta = 0.05, 0.90
    return np.array([float(np.mean(returns)), variance * (1.0 - alpha - beta), alpha, beta])


def garch_feasible(params: np.ndarray) -> bool:
    """omega > 0, alpha, beta >= 0, alpha + beta < 1 (stationary); for Student-t innovations nu > 2."""
    omega, alpha, beta = params[1], params[2], params[3]
    if not (omega > 0 and alpha >= 0 and beta >= 0 and alpha + beta < 1):
        return False
    return len(params) == 4 or params[4] > 2
