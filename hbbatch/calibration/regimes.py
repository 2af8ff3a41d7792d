"""The regime rule, and the per-regime price parameters fitted from classified windows.

The rule (the agent's online classifier in hbbatch/sim/agent.py approximates it):
    robust sigma   = 1.4826 * MAD(r)                        (MAD about the median)
    jump           = |r - median(r)| > jump_sigmas * robust sigma
    jump share     = sum of r^2 over jumps / sum of r^2
    drift t-stat   = mean(r) / (std(r) / sqrt(n))           (std with ddof = 1)
    trend_up if t >= trend_tstat; elif jump share >= jumpy_variance_share: jumpy; else mean_revert.

Windows: consecutive, non-overlapping runs of `window` returns ending at the newest return (7 daily
returns by default: an episode is a week, like the simulator's 10,080 one-minute steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbbatch.config.sim import REGIMES, AgentConf

MAD_TO_SIGMA = 1.4826
DAYS_PER_YEAR = 365.0   # crypto trades every day; as hbbatch.sim.price
NULL_WINDOWS = 4000     # random-walk windows simulated to measure the selection bias of the OU fit
NULL_SEED = 20240105


@dataclass(frozen=True)
class WindowStats:
    n: int
    mean: float
    std: float
    median: float
    robust_sigma: float
    jumps: np.ndarray            # (n,) bool
    jump_variance_share: float
    drift_tstat: float


def window_stats(log_returns: Any, jump_sigmas: float = AgentConf.jump_sigmas) -> WindowStats:
    r = np.asarray(log_returns, dtype=float)
    if r.ndim != 1 or r.size < 2 or not np.all(np.isfinite(r)):
        raise ValueError(f"a window needs at least 2 finite log returns; got {r.size} (finite: {np.isfinite(r).sum()})")
    median = float(np.median(r))
    robust_sigma = MAD_TO_SIGMA * float(np.median(np.abs(r - median)))
    jumps = np.abs(r - median) > jump_sigmas * robust_sigma
    total_sq = float(np.sum(r**2))
    share = float(np.sum(r[jumps] ** 2)) / total_sq if total_sq > 0 else 0.0
    mean, std = float(np.mean(r)), float(np.std(r, ddof=1))
    if std > 0:
        tstat = mean / (std / math.sqrt(r.size))
    else:  # a constant window: an infinite t-statistic in the sign of its drift
        tstat = math.copysign(math.inf, mean) if mean != 0 else 0.0
    return WindowStats(n=r.size, mean=mean, std=std, median=median, robust_sigma=robust_sigma, jumps=jumps,
                       jump_variance_share=share, drift_tstat=tstat)


def classify_window(log_returns: Any, jump_sigmas: float = AgentConf.jump_sigmas,
                    jumpy_variance_share: float = AgentConf.jumpy_variance_share,
                    trend_tstat: float = AgentConf.trend_tstat) -> str:
    """The regime of one window of log returns (see the module docstring for the rule)."""
    stats = window_stats(log_returns, jump_sigmas)
    if stats.drift_tstat >= trend_tstat:
        return "trend_up"
    if stats.jump_variance_share >= jumpy_variance_share:
        return "jumpy"
    return "mean_revert"


def classify_windows(windows: Any, thresholds: "Thresholds | None" = None) -> np.ndarray:
    """`classify_window` for every row of (n_windows, window) at once: regime indices in REGIMES order."""
    thresholds = thresholds or Thresholds()
    w = np.asarray(windows, dtype=float)
    median = np.median(w, axis=1, keepdims=True)
    deviation = np.abs(w - median)
    robust_sigma = MAD_TO_SIGMA * np.median(deviation, axis=1, keepdims=True)
    jumps = deviation > thresholds.jump_sigmas * robust_sigma
    total_sq = np.sum(w**2, axis=1)
    share = np.divide(np.sum(np.where(jumps, w**2, 0.0), axis=1), total_sq, out=np.zeros(len(w)), where=total_sq > 0)
    mean, std = w.mean(axis=1), w.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(std > 0, mean / (std / math.sqrt(w.shape[1])), np.sign(mean) * np.inf)
    tstat = np.nan_to_num(tstat, nan=0.0, posinf=np.inf, neginf=-np.inf)
    trend = tstat >= thresholds.trend_tstat
    jumpy = share >= thresholds.jumpy_variance_share
    return np.where(trend, REGIMES.index("trend_up"), np.where(jumpy, REGIMES.index("jumpy"),
                                                               REGIMES.index("mean_revert")))


def split_windows(log_returns: Any, window: int) -> np.ndarray:
    """(n_windows, window) consecutive windows ending at the newest return; the oldest remainder is dropped."""
    r = np.asarray(log_returns, dtype=float)
    n_windows = r.size // window
    if n_windows < 1:
        raise ValueError(f"{r.size} returns do not fill one window of {window}")
    return r[r.size - n_windows * window:].reshape(n_windows, window)


@dataclass(frozen=True)
class Thresholds:
    jump_sigmas: float = AgentConf.jump_sigmas
    jumpy_variance_share: float = AgentConf.jumpy_variance_share
    trend_tstat: float = AgentConf.trend_tstat


def fit_regimes(log_returns: Any, window: int, step_days: float, thresholds: Thresholds = Thresholds()) -> dict[str, Any]:
    """Classify every window, then fit each regime's price process from its windows.

    Per regime: diffusive volatility from the non-jump returns (variance about each window's mean,
    pooled); jumps by a truncated-normal moment fit, since only jumps beyond the threshold are seen
    (detected with the rule's threshold on the regime's pooled MAD);
    the simulator's drift (E[P] grows as e^(drift t)) from the mean log return; mean reversion of the
    log price to the window's start, net of the pull that classifying alone puts into random walks.
    """
    windows = split_windows(log_returns, window)
    stats = [window_stats(w, thresholds.jump_sigmas) for w in windows]
    labels = [classify_window(w, thresholds.jump_sigmas, thresholds.jumpy_variance_share, thresholds.trend_tstat)
              for w in windows]
    counts = {regime: labels.count(regime) for regime in REGIMES}
    per_regime = {}
    for regime in REGIMES:
        chosen = [i for i, label in enumerate(labels) if label == regime]
        per_regime[regime] = _fit_one(windows[chosen], [stats[i] for i in chosen], step_days, thresholds.jump_sigmas)
    per_regime["mean_revert"]["mean_reversion"] = fit_mean_reversion(
        windows[[i for i, label in enumerate(labels) if label == "mean_revert"]], step_days,
        per_regime["mean_revert"]["diffusive_sigma_per_step"], thresholds)
    return {
        "n_windows": len(labels),
        "window_returns": window,
        "step_days": step_days,
        "counts": counts,
        "mix": {regime: counts[regime] / len(labels) for regime in REGIMES},
        "labels": labels,
        "per_regime": per_regime,
    }


def _fit_one(windows: np.ndarray, stats: list[WindowStats], step_days: float, jump_sigmas: float) -> dict[str, Any]:
    if len(stats) == 0:
        return {"n_windows": 0, "n_returns": 0, "n_jumps": 0}
    returns = windows.reshape(-1)
    # Jumps for the fit are re-detected against one scale for the whole regime (the same rule, with the
    # MAD pooled over its windows): a 7-return window's own MAD is too noisy a yardstick to size jumps by.
    deviations = (windows - np.median(windows, axis=1, keepdims=True)).reshape(-1)
    robust_sigma = MAD_TO_SIGMA * float(np.median(np.abs(deviations)))
    threshold = jump_sigmas * robust_sigma
    jumps = np.abs(deviations) > threshold
    calm_sigma = _pooled_sigma(windows, jumps.reshape(windows.shape))
    jump_prob, jump_std, sigma_step = fit_jumps(deviations[jumps], returns.size, calm_sigma, threshold)
    if jump_std <= calm_sigma or jump_prob >= 0.5:
        # Exceedances no bigger than the diffusion itself, or on most steps, are fat tails (or windows
        # of mixed scale), not jumps: fold them back into the diffusive volatility.
        jump_prob, jump_std, jumps = 0.0, 0.0, np.zeros_like(jumps)
        sigma_step = _pooled_sigma(windows)
    steps_per_year = DAYS_PER_YEAR / step_days
    vol_annual = sigma_step * math.sqrt(steps_per_year)
    jumps_per_year = jump_prob * steps_per_year
    log_drift_annual = float(np.mean(returns)) * steps_per_year
    # The simulator's step: (drift - sigma^2/2) dt - jump compensation + noise, so E[P] grows as e^(drift t).
    drift_annual = log_drift_annual + 0.5 * vol_annual**2 + jumps_per_year * (math.exp(0.5 * jump_std**2) - 1.0)
    return {
        "n_windows": len(stats),
        "n_returns": int(returns.size),
        "n_jumps": int(jumps.sum()),
        "n_window_rule_jumps": int(sum(int(s.jumps.sum()) for s in stats)),
        "jump_threshold": threshold,
        "diffusive_sigma_per_step": sigma_step,
        "vol_annual": vol_annual,
        "log_drift_annual": log_drift_annual,
        "drift_annual": drift_annual,
        "jumps_per_day": jump_prob / step_days,
        "jump_size_std": jump_std,
        "realized_vol_annual": float(np.std(returns, ddof=1)) * math.sqrt(steps_per_year) if returns.size > 1 else 0.0,
    }


def _pooled_sigma(windows: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Std of returns about their window's mean, pooled over windows (ddof 1 per window), skipping `exclude`."""
    sq, dof = 0.0, 0
    for i, w in enumerate(windows):
        kept = w if exclude is None else w[~exclude[i]]
        if kept.size >= 2:
            sq += float(np.sum((kept - kept.mean()) ** 2))
            dof += kept.size - 1
    return math.sqrt(sq / dof) if dof > 0 else 0.0


def _upper_tail(a: float) -> float:
    return 0.5 * math.erfc(a / math.sqrt(2.0))


def fit_jumps(jump_deviations: np.ndarray, n_returns: int, calm_sigma: float,
              threshold: float) -> tuple[float, float, float]:
    """(jump probability per step, jump size std, diffusive sigma) from the jumps seen beyond `threshold`.

    A step with a jump moves by X = diffusion + J ~ N(0, v), v = sigma^2 + s^2, and is seen only when
    |X| > c. The seen jumps' mean square is v (1 + a phi(a) / Q(a)), a = c / sqrt(v): solve it for v;
    the rate is seen / (n * 2 Q(a)). The unseen jumps stayed among the calm returns (std `calm_sigma`)
    with mean square v (1 - 2 Q(a) - 2 a phi(a)): take them out to get sigma, then s^2 = v - sigma^2.
    """
    seen = int(jump_deviations.size)
    if seen == 0 or threshold <= 0:
        return 0.0, 0.0, calm_sigma
    mean_sq = float(np.mean(jump_deviations**2))

    def seen_mean_sq(v: float) -> float:
        a = threshold / math.sqrt(v)
        return v * (1.0 + a * _density(a) / _upper_tail(a))

    lo, hi = math.log(threshold**2 / 900.0), math.log(threshold**2 * 1e4)   # a in [0.01, 30]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if seen_mean_sq(math.exp(mid)) < mean_sq:
            lo = mid
        else:
            hi = mid
    v = math.exp(0.5 * (lo + hi))
    a = threshold / math.sqrt(v)
    detect_prob = 2.0 * _upper_tail(a)
    prob = min(seen / (n_returns * detect_prob), 1.0)
    unseen_mean_sq = v * max(1.0 - detect_prob - 2.0 * a * _density(a), 0.0)
    calm_var = calm_sigma**2 * (1.0 - prob * detect_prob)
    sigma_sq = (calm_var - prob * unseen_mean_sq) / (1.0 - prob) if prob < 1.0 else 0.0
    sigma = math.sqrt(min(max(sigma_sq, 0.0), v))
    return prob, math.sqrt(max(v - sigma**2, 0.0)), sigma


def _density(a: float) -> float:
    return math.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)


def mean_reversion_slope(windows: np.ndarray) -> tuple[float, float, int]:
    """OLS slope (and its t-statistic) of each return on the log price since the window's start."""
    if len(windows) == 0:
        return 0.0, 0.0, 0
    level = np.cumsum(windows, axis=1) - windows          # log price before each return, relative to the start
    x, y = level.reshape(-1), windows.reshape(-1)
    if x.size < 3 or np.var(x) == 0:
        return 0.0, 0.0, int(x.size)
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    s2 = float(resid @ resid) / (x.size - 2)
    se = math.sqrt(s2 / float(np.sum((x - x.mean()) ** 2)))
    return float(coef[1]), float(coef[1] / se) if se > 0 else 0.0, int(x.size)


def fit_mean_reversion(windows: np.ndarray, step_days: float, sigma_step: float,
                       thresholds: Thresholds) -> dict[str, Any]:
    """OU pull per day on the log price toward the window's start, net of the selection bias.

    Keeping only windows the rule calls mean_revert drops trending ones, which alone makes random
    walks look mean-reverting; that pull is measured on simulated random walks with the same
    volatility, classified the same way, and subtracted. Supported when the net pull is positive and
    at least two standard errors.
    """
    slope, tstat, n = mean_reversion_slope(windows)
    if n == 0 or sigma_step <= 0:
        return {"kappa_per_day": 0.0, "supported": False, "n_returns": n, "reason": "no mean_revert windows"}
    rng = np.random.default_rng(NULL_SEED)
    null = rng.normal(0.0, sigma_step, size=(NULL_WINDOWS, windows.shape[1]))
    kept = np.array([classify_window(w, thresholds.jump_sigmas, thresholds.jumpy_variance_share,
                                     thresholds.trend_tstat) == "mean_revert" for w in null])
    null_slope, _, _ = mean_reversion_slope(null[kept])
    kappa_se = abs(slope / tstat) / step_days if tstat else math.inf
    kappa_raw = -slope / step_days
    kappa_null = -null_slope / step_days
    kappa = kappa_raw - kappa_null
    supported = bool(kappa > 0 and kappa >= 2.0 * kappa_se)
    return {
        "kappa_per_day": kappa if supported else 0.0,
        "kappa_raw_per_day": kappa_raw,
        "kappa_selection_bias_per_day": kappa_null,
        "kappa_net_per_day": kappa,
        "slope_tstat": tstat,
        "kappa_standard_error_per_day": kappa_se,
        "supported": supported,
        "n_returns": n,
    }
