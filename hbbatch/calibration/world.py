"""The `regimes` world's numbers, fitted by maximum likelihood on the embedded real history.

    volatility   two parts (hbbatch/worlds/levels.py): a slow level L, the realised variance of the
                 `level_days` days from each hour, which the world takes per episode from a real day; and
                 a GARCH(1,1) (the `arch` library, normal innovations, by ML) of hourly ETH log returns
                 over sqrt(L), so the simulator's conditional variance clusters around the episode's
                 level as real volatility does. A GARCH(1,1) on the raw returns (kept as `raw_garch`)
                 has persistence 0.996, but with the data's heavy-tailed innovations its simulated |r|
                 forgets within about two days: the week-long memory of real volatility is its level
    jumps        a two-normal mixture (ML) on the GARCH's standardised residuals: with probability
                 pi an hour's innovation also carries a jump; per regime, in log units at its vol level
    reversion    variance ratios of the hourly log price (Lo-MacKinlay, heteroskedasticity-robust:
                 `arch.unitroot.VarianceRatio`) at 1 day, 1 week, 1 month: the OU pull is fitted only
                 where a ratio is significantly below 1, else it is 0
    drift        drawn per episode: per regime, the mean of its weeks' drift where significant (else 0,
                 a martingale price); the trend regime takes trending weeks either way
                 (|t| >= trend_tstat) and draws each episode's drift from their distribution, net of
                 the weeks' own sampling noise
    volume       steady flow plus a |return|-driven share, from daily pool volume against the day's
                 summed |hourly return| (both relative to their 30-day medians: levels drift over years); the level
                 itself is the pool's own per day (hbbatch/worlds/levels.py), as the Binance -> pool link
                 (`exchange_link`, elasticity 0.90, R^2 0.46 day to day) explains levels across years poorly
    gas          the cost of a recenter taken from the same days as the pool's fees and volume, and its
                 elasticity to the day's realised volatility (relative to 30-day medians); high-gas
                 spells are tested on the daily gas (`fit_gas_spells`)

Weeks are classified with the calibration's window rule (hbbatch/calibration/regimes.py) applied to
daily closes of the hourly bars; each hour carries its week's label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hbbatch.calibration import likelihood
from hbbatch.calibration.regimes import REGIMES, Thresholds, classify_windows, split_windows
from hbbatch.calibration.gas import RECENTER_GAS_UNITS
from hbbatch.worlds import levels as world_levels
from hbbatch.worlds import inputs as world_inputs
from hbbatch.worlds import pool as world_pool
from hbbatch.worlds.levels import hourly_returns

HOURS_PER_YEAR = 8760.0
STUDENT_NU_START = 4.0   # the Student-t fit starts from the normal fit and this nu (from 8 it stalls at alpha + beta = 1)
DAYS_PER_YEAR = 365.0
VARIANCE_RATIO_LAGS_HOURS = (24, 168, 720)
REVERSION_ALPHA = 0.05
TREND = "trend_up"
HISTORY_FILES = ("eth_usdt_60m.parquet", "pool_weth_usdt_05bp_daily.parquet", "gas_daily.parquet")


@dataclass(frozen=True)
class WorldFitSettings:
    first_day: str = "2020-01-01"      # hourly history used from this day (earlier: thin, exchange-era data)
    window_days: int = 7
    gas_window_days: int = 30          # gas level: the days ending on the pool's fee/volume day
    rolling_days: int = 30             # detrending window for the volume and gas elasticities
    level_days: float = 14.0           # the slow volatility level: realised variance over this many days
    thresholds: Thresholds = Thresholds()


def fit_garch(returns: pd.Series, student_t: bool = True) -> dict[str, Any]:
    """GARCH(1,1) with a constant mean by maximum likelihood (arch's model and likelihood, maximised the
    same way on any CPU: hbbatch/calibration/likelihood.py), in log-return units per hour."""
    from arch import arch_model

    scale = 100.0   # arch's likelihood is best conditioned in percent returns
    values = returns.to_numpy(float) * scale
    normal = likelihood.maximise(arch_model(values, mean="Constant", vol="GARCH", p=1, q=1, dist="normal",
                                            rescale=False), likelihood.garch_start(values), likelihood.garch_feasible)
    mu, omega, alpha, beta = (float(v) for v in normal["params"])
    student = likelihood.maximise(arch_model(values, mean="Constant", vol="GARCH", p=1, q=1, dist="t",
                                             rescale=False), np.append(normal["params"], STUDENT_NU_START),
                                  likelihood.garch_feasible) if student_t else None
    persistence = alpha + beta
    return {
        "alpha": alpha, "beta": beta,
        "alpha_se": float(normal["std_err"][2]), "beta_se": float(normal["std_err"][3]),
        "omega_per_hour": omega / scale**2,
        "mean_per_hour": mu / scale,
        "persistence": persistence,
        "half_life_hours": math.log(0.5) / math.log(persistence) if 0 < persistence < 1 else math.inf,
        "long_run_vol_annual": math.sqrt(omega / scale**2 / (1 - persistence) * HOURS_PER_YEAR)
        if persistence < 1 else math.inf,
        "log_likelihood": normal["log_likelihood"],
        "converged": normal["converged"],
        "student_t": None if student is None else {
            "alpha": float(student["params"][2]), "beta": float(student["params"][3]),
            "nu": float(student["params"][4]), "log_likelihood": student["log_likelihood"],
            "note": "for comparison only: the simulator's innovations are normal plus jumps"},
        "conditional_variance": (np.asarray(normal["fixed"].conditional_volatility) / scale) ** 2,
        "standardised_residuals": np.asarray(normal["fixed"].std_resid),
        "n_hours": int(returns.size),
        "window": {"first": pd.Timestamp(returns.index[0]).isoformat(), "last": pd.Timestamp(returns.index[-1]).isoformat()},
    }


def fit_jump_mixture(z: np.ndarray) -> dict[str, float]:
    """ML of z ~ (1 - pi) N(0, c^2) + pi N(0, c^2 + s^2): pi the jump probability per hour, c the
    diffusive and s the jump scale, both in units of the conditional standard deviation."""
    from scipy.optimize import minimize

    z = np.asarray(z, float)
    z = z[np.isfinite(z)]
    z2 = z * z

    def negative_log_likelihood(theta: np.ndarray) -> float:
        pi = 1.0 / (1.0 + math.exp(-theta[0]))
        c2, s2 = math.exp(theta[1]), math.exp(theta[2])
        calm = (1 - pi) * np.exp(-0.5 * z2 / c2) / np.sqrt(c2)
        jumpy = pi * np.exp(-0.5 * z2 / (c2 + s2)) / np.sqrt(c2 + s2)
        return -float(np.sum(np.log(calm + jumpy + 1e-300)))

    best = min((minimize(negative_log_likelihood, np.array(start), method="Nelder-Mead",
                         options={"xatol": 1e-8, "fatol": 1e-6, "maxiter": 4000})
                for start in ([-4.0, math.log(0.8), math.log(9.0)], [-2.5, math.log(0.6), math.log(4.0)])),
               key=lambda r: r.fun)
    pi = 1.0 / (1.0 + math.exp(-best.x[0]))
    c, s = math.sqrt(math.exp(best.x[1])), math.sqrt(math.exp(best.x[2]))
    return {"jump_prob_per_hour": pi, "diffusive_scale": c, "jump_scale": s, "n": int(z.size),
            "excess_kurtosis_residuals": float(pd.Series(z).kurt())}


def variance_ratio_test(log_price: np.ndarray, lags: tuple[int, ...] = VARIANCE_RATIO_LAGS_HOURS) -> dict[str, Any]:
    """Variance ratios of the hourly log price; mean reversion is supported where VR < 1 at level alpha
    (one-sided, robust z). The OU pull then comes from the most significant lag: VR(q) ~ (1 - e^(-k q)) / (k q)."""
    from arch.unitroot import VarianceRatio

    rows = []
    for lag in lags:
        ratio = VarianceRatio(np.asarray(log_price, float), lags=lag, robust=True)
        z = float(ratio.stat)
        from scipy.stats import norm

        rows.append({"lag_hours": lag, "variance_ratio": float(ratio.vr), "z": z,
                     "p_value_two_sided": float(ratio.pvalue), "p_value_reversion": float(norm.cdf(z))})
    significant = [row for row in rows if row["variance_ratio"] < 1 and row["p_value_reversion"] < REVERSION_ALPHA]
    kappa_per_day = 0.0
    if significant:
        row = min(significant, key=lambda r: r["p_value_reversion"])
        kappa_per_day = _kappa_from_variance_ratio(row["variance_ratio"], row["lag_hours"]) * 24.0
    return {"variance_ratios": rows, "supported": bool(significant), "kappa_per_day": kappa_per_day,
            "alpha": REVERSION_ALPHA,
            "rule": "OU pull only where a variance ratio is below 1 at the one-sided level alpha"}


def _kappa_from_variance_ratio(ratio: float, lag: int) -> float:
    lo, hi = 1e-9, 10.0
    for _ in range(200):   # VR(q) = (1 - e^{-kq}) / (kq) falls from 1 as k grows
        mid = 0.5 * (lo + hi)
        value = (1 - math.exp(-mid * lag)) / (mid * lag)
        lo, hi = (mid, hi) if value > ratio else (lo, mid)
    return 0.5 * (lo + hi)


def daily_closes(bars: pd.DataFrame, first_day: str) -> pd.Series:
    frame = bars[bars["date"] >= pd.Timestamp(first_day, tz="UTC")]
    return frame.set_index("date")["close"].resample("1D").last().dropna()


def weekly_labels(closes: pd.Series, settings: WorldFitSettings) -> pd.DataFrame:
    """Each week of daily log returns classified by the window rule; also labels trends either way."""
    returns = np.diff(np.log(closes.to_numpy(float)))
    days = closes.index[1:]
    window = settings.window_days
    windows = split_windows(returns, window)
    first = returns.size - windows.shape[0] * window
    labels = classify_windows(windows, settings.thresholds)
    mean = windows.mean(axis=1)
    std = windows.std(axis=1, ddof=1)
    tstat = np.where(std > 0, mean / np.where(std > 0, std, 1.0) * math.sqrt(window), 0.0)
    trend_either_way = np.abs(tstat) >= settings.thresholds.trend_tstat
    world_labels = np.where(trend_either_way, REGIMES.index(TREND), np.where(labels == REGIMES.index(TREND),
                                                                                REGIMES.index("mean_revert"), labels))
    return pd.DataFrame({"start": days[first::window][: windows.shape[0]], "rule_label": labels,
                         "world_label": world_labels, "mean_daily": mean, "std_daily": std, "tstat": tstat})


def fit_drifts(weeks: pd.DataFrame, window: int, tstat: float = 2.0) -> dict[str, dict[str, float]]:
    """Per regime: the drift as the simulator reads it (E[P] grows as e^(drift t)) and the spread of the
    per-episode drift net of each week's own sampling noise (std^2 / n).

    A regime's mean drift is kept only where it is significant (|t| >= `tstat` over its weeks), else the
    price is a martingale (drift 0), as for mean reversion. The trend regime is its weeks' drift
    distribution, both ways: trending weeks are what the regime means, whether or not trends persist
    (`persistence` below says whether they do)."""
    out = {}
    for index, regime in enumerate(REGIMES):
        chosen = weeks[weeks["world_label"] == index]
        if len(chosen) < 2:
            out[regime] = {"n_weeks": int(len(chosen)), "drift_annual": 0.0, "drift_dispersion_annual": 0.0}
            continue
        drift = chosen["mean_daily"].to_numpy() * DAYS_PER_YEAR
        noise = float(np.mean(chosen["std_daily"].to_numpy() ** 2 / window)) * DAYS_PER_YEAR**2
        spread = math.sqrt(max(float(np.var(drift, ddof=1)) - noise, 0.0))
        ito = 0.5 * float(np.mean(chosen["std_daily"].to_numpy() ** 2)) * DAYS_PER_YEAR
        mean_t = float(drift.mean() / (drift.std(ddof=1) / math.sqrt(drift.size))) if drift.std(ddof=1) > 0 else 0.0
        keep = regime == TREND or abs(mean_t) >= tstat
        out[regime] = {"n_weeks": int(len(chosen)), "log_drift_annual": float(drift.mean()), "mean_drift_tstat": mean_t,
                       "drift_annual": float(drift.mean()) + ito if keep else 0.0,
                       "drift_dispersion_annual": spread if regime == TREND else 0.0,
                       "excess_dispersion_annual": spread,
                       "weeks_down": int(np.sum(chosen["tstat"] < 0)), "weeks_up": int(np.sum(chosen["tstat"] > 0))}
    drift_all = weeks["mean_daily"].to_numpy() * DAYS_PER_YEAR
    trend = weeks["world_label"].to_numpy() == REGIMES.index(TREND)
    following = np.roll(drift_all, -1)
    trend[-1] = False
    same_sign = float(np.mean(np.sign(drift_all[trend]) == np.sign(following[trend]))) if trend.any() else None
    noise_all = float(np.mean(weeks["std_daily"].to_numpy() ** 2 / window)) * DAYS_PER_YEAR**2
    out["all_weeks"] = {"n_weeks": int(drift_all.size), "log_drift_annual": float(drift_all.mean()),
                        "mean_drift_tstat": float(drift_all.mean() / (drift_all.std(ddof=1) / math.sqrt(drift_all.size))),
                        "excess_dispersion_annual": math.sqrt(max(float(np.var(drift_all, ddof=1)) - noise_all, 0.0))}
    out["persistence"] = {"trend_weeks": int(trend.sum()), "next_week_same_sign_share": same_sign,
                          "next_week_signed_drift_annual": float(np.mean(np.sign(drift_all[trend]) * following[trend]))
                          if trend.any() else None}
    return out


def hourly_regimes(hours: pd.Index, weeks: pd.DataFrame, window: int) -> np.ndarray:
    """The week label of each hour (-1 outside the classified weeks)."""
    starts = weeks["start"].to_numpy("datetime64[ns]")
    stamps = pd.DatetimeIndex(hours).tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]")
    # a day's return is close(d) / close(d-1), so the week starting at day d covers hours from d-1 00:00
    starts_shifted = starts - np.timedelta64(1, "D")
    position = np.searchsorted(starts_shifted, stamps, side="right") - 1
    end = starts_shifted[-1] + np.timedelta64(window, "D")
    labels = weeks["world_label"].to_numpy()
    valid = (position >= 0) & (stamps < end)
    return np.where(valid, labels[np.clip(position, 0, None)], -1)


def fit_volume_share(pool: pd.DataFrame, bars: pd.DataFrame, rolling_days: int) -> dict[str, Any]:
    """Daily pool volume / its 30-day median = a + s x (summed |hourly return| / its 30-day median)."""
    frame = bars.set_index("date")
    abs_move = np.abs(np.log(frame["close"]).diff()).resample("1D").sum(min_count=20)
    daily = pool.set_index("date")["volume_usd"]
    joined = pd.concat({"volume": daily, "move": abs_move}, axis=1, join="inner").dropna()
    joined = joined[(joined["volume"] > 0) & (joined["move"] > 0)]
    y = joined["volume"] / joined["volume"].rolling(rolling_days, min_periods=rolling_days).median()
    x = joined["move"] / joined["move"].rolling(rolling_days, min_periods=rolling_days).median()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok].to_numpy(), y[ok].to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    share = float(slope / (slope + intercept))   # the model's (1 - s) + s x, normalised to 1 at x = 1
    return {"volume_vol_share": min(max(share, 0.0), 1.0), "slope": float(slope), "intercept": float(intercept),
            "correlation": float(np.corrcoef(x, y)[0, 1]), "days": int(x.size),
            "window": {"first": joined.index[0].isoformat(), "last": joined.index[-1].isoformat()}}


def fit_gas_world(gas: pd.DataFrame, bars: pd.DataFrame, pool_day: str | None,
                  settings: WorldFitSettings) -> dict[str, Any]:
    """ln(gas) against ln(daily realised vol), both relative to their 30-day medians, over the history;
    and the gas of a recenter over the days ending on the pool's day (`level`: None where the history
    does not cover those days, as for a live pool window after the history ends)."""
    gas = gas.set_index("date")
    gas_usd = RECENTER_GAS_UNITS * gas["gas_price_gwei"] * 1e-9 * gas["eth_price_usd"]
    frame = bars.set_index("date")
    r = np.log(frame["close"]).diff()
    daily_vol = np.sqrt((r**2).resample("1D").sum(min_count=20) * DAYS_PER_YEAR)
    joined = pd.concat({"gas": gas_usd, "vol": daily_vol}, axis=1, join="inner").dropna()
    joined = joined[(joined["gas"] > 0) & (joined["vol"] > 0)]
    joined = joined[joined.index >= pd.Timestamp(settings.first_day, tz="UTC")]
    rolling = settings.rolling_days
    log_gas, log_vol = np.log(joined["gas"]), np.log(joined["vol"])
    y = log_gas - log_gas.rolling(rolling, min_periods=rolling).median()
    x = log_vol - log_vol.rolling(rolling, min_periods=rolling).median()
    ok = np.isfinite(x) & np.isfinite(y)
    slope, _ = np.polyfit(x[ok].to_numpy(), y[ok].to_numpy(), 1)
    top = joined["vol"] >= joined["vol"].rolling(rolling, min_periods=rolling).quantile(0.9)
    ratio = joined["gas"] / joined["gas"].rolling(rolling, min_periods=rolling).median()
    out = {"gas_vol_elasticity": float(slope), "elasticity_days": int(ok.sum()),
           "elasticity_window": {"first": joined.index[0].isoformat(), "last": joined.index[-1].isoformat()},
           "gas_ratio_top_decile_vol_days": float(ratio[top & ratio.notna()].median()),
           "recenter_gas_units": float(RECENTER_GAS_UNITS), "level": None}
    if pool_day is None:
        return out
    end = pd.Timestamp(pool_day, tz="UTC")
    span = (gas_usd.index > end - pd.Timedelta(days=settings.gas_window_days)) & (gas_usd.index <= end)
    level = gas_usd[span]
    if len(level) < settings.gas_window_days // 2:
        return out
    window_vol = daily_vol[(daily_vol.index > end - pd.Timedelta(days=settings.gas_window_days)) & (daily_vol.index <= end)]
    out["level"] = {"gas_usd_median": float(level.median()), "gas_usd_p10": float(level.quantile(0.1)),
                    "gas_usd_p90": float(level.quantile(0.9)), "days": int(level.size),
                    "gas_usd_on_pool_day": float(level.iloc[-1]),
                    "window": {"first": level.index[0].isoformat(), "last": level.index[-1].isoformat()},
                    "gas_price_gwei_median": float(gas["gas_price_gwei"][level.index].median()),
                    "gas_dispersion": float(np.std(np.log(level), ddof=1)),
                    "gas_ref_vol_annual": float(window_vol.median())}
    return out


def fit_volatility(returns: pd.Series, level_days: float) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The volatility's parts (module docstring): the GARCH of r / sqrt(L s) and, per hour, the model's
    conditional variance L s g and standardised residual r / sqrt(L s g) (NaN where L is unknown: the
    history's last days)."""
    split = world_levels.standardised_returns(returns, level_days)
    known = np.isfinite(split.z)
    garch = fit_garch(pd.Series(split.z[known], index=returns.index[known]))
    for key in ("conditional_variance", "standardised_residuals", "long_run_vol_annual"):
        garch.pop(key)   # (arch's long-run variance is in units of L here: the world targets L instead)
    g = world_levels.garch_variance(split.z, garch["alpha"], garch["beta"])
    variance = split.level * split.seasonal[world_levels.hour_of_week(returns.index)] * g
    mean_level = float(np.nanmean(split.level))
    garch.update(
        on="r / sqrt(L s): hourly log returns over the square root of the realised variance of the "
           f"{level_days:g} days from each hour (L) times the hour of the week's variance profile (s)",
        level_days=float(level_days), mean_level_vol_annual=math.sqrt(mean_level * HOURS_PER_YEAR),
        level_log_sd=float(np.nanstd(np.log(split.level[known]), ddof=1)),
        start_log_sd=float(np.std(np.log(g[known]), ddof=1)),
        hour_of_week_variance=[round(float(x), 4) for x in split.seasonal],   # Monday 00:00 UTC first
        # the volatility at which the world's gas sits at its level: its median at the mean level
        gas_ref_vol_annual=math.sqrt(mean_level * float(np.median(g[known])) * HOURS_PER_YEAR))
    with np.errstate(invalid="ignore"):
        residuals = split.z / np.sqrt(g)
    return garch, variance, residuals


def fit_gas_spells(gas: pd.DataFrame, settings: WorldFitSettings) -> dict[str, Any]:
    """Are there high-gas spells beyond a lognormal day-to-day spread? Daily ln(gas per action) over its
    trailing 30-day median: its AR(1) and the AR residuals' tails against a normal of the same spread.
    Daily data cannot see the world's old hour-long spells (0.5 a day, 3 h, 4x); multi-day spells would
    show as a fat right tail of the residuals. The regimes world draws each episode's gas from a real
    day, so the days' own spikes are in it either way; spells are set to 0 (`identified: false`)."""
    from scipy.stats import norm

    usd = world_inputs.daily_gas_usd(gas, RECENTER_GAS_UNITS)
    usd = usd[usd.index >= pd.Timestamp(settings.first_day, tz="UTC")]
    log_gas = np.log(usd[usd > 0])
    deviation = (log_gas - log_gas.rolling(settings.rolling_days, min_periods=settings.rolling_days).median()).dropna()
    rho = float(deviation.autocorr(1))
    residual = (deviation - rho * deviation.shift(1)).dropna()
    sd = float(residual.std(ddof=1))
    quantiles = {f"q{round(100 * q):02d}": float(residual.quantile(q)) for q in (0.01, 0.05, 0.95, 0.99)}
    normal = {f"q{round(100 * q):02d}": float(norm.ppf(q) * sd) for q in (0.01, 0.05, 0.95, 0.99)}
    return {"days": int(deviation.size), "deviation_sd": float(deviation.std(ddof=1)), "ar1": rho,
            "residual_sd": sd, "residual_skew": float(residual.skew()), "residual_excess_kurtosis": float(residual.kurt()),
            "residual_quantiles": quantiles, "normal_quantiles": normal,
            "identified": False, "gas_spells_per_day": 0.0,
            "why": "daily gas cannot identify hour-long spells; between days the residuals are normal to the "
                   "5/95 % quantiles and fatter only at 1/99 %, and the world's per-episode gas is a real "
                   "day's, spikes included"}


def fit_world(bars: pd.DataFrame, pool: pd.DataFrame, gas: pd.DataFrame, pool_day: str | None,
              settings: WorldFitSettings = WorldFitSettings()) -> dict[str, Any]:
    """Every number of the regimes world (see the module docstring) with the figures behind it."""
    returns = hourly_returns(bars, settings.first_day)
    garch, variance, residuals = fit_volatility(returns, settings.level_days)
    closes = daily_closes(bars, settings.first_day)
    weeks = weekly_labels(closes, settings)
    hour_label = hourly_regimes(returns.index, weeks, settings.window_days)
    reversion = variance_ratio_test(np.log(bars[bars["date"] >= pd.Timestamp(settings.first_day, tz="UTC")]
                                           ["close"].to_numpy(float)))
    drifts = fit_drifts(weeks, settings.window_days, settings.thresholds.trend_tstat)
    per_regime = {}
    for index, regime in enumerate(REGIMES):
        chosen = (hour_label == index) & np.isfinite(variance)
        mixture = fit_jump_mixture(residuals[chosen])
        level = float(np.mean(variance[chosen]))     # mean conditional variance per hour in the regime
        per_regime[regime] = {
            "n_hours": int(chosen.sum()),
            "vol_annual": mixture["diffusive_scale"] * math.sqrt(level * HOURS_PER_YEAR),
            "jumps_per_day": mixture["jump_prob_per_hour"] * 24.0,
            "jump_size_std": mixture["jump_scale"] * math.sqrt(level),
            "realized_vol_annual": float(np.std(returns.to_numpy()[chosen], ddof=1) * math.sqrt(HOURS_PER_YEAR)),
            "log_variance_sd": float(np.std(np.log(variance[chosen]), ddof=1)),
            "mixture": mixture,
            **drifts[regime],
        }
    shares = {regime: float(np.mean(weeks["world_label"] == i)) for i, regime in enumerate(REGIMES)}
    abs_r = np.abs(returns.to_numpy())
    figures = {"hourly_excess_kurtosis": float(returns.kurt()),
               "acf_abs_return": {str(lag): float(pd.Series(abs_r).autocorr(lag)) for lag in (1, 24, 168)},
               "weeks": int(len(weeks)), "world_label_shares": shares,
               "trend_weeks_down": int(np.sum((weeks["world_label"] == REGIMES.index(TREND)) & (weeks["tstat"] < 0))),
               "trend_weeks_up": int(np.sum((weeks["world_label"] == REGIMES.index(TREND)) & (weeks["tstat"] > 0)))}
    pooled_sd = math.sqrt(sum(per_regime[r]["log_variance_sd"] ** 2 * per_regime[r]["n_hours"] for r in REGIMES)
                          / sum(per_regime[r]["n_hours"] for r in REGIMES))
    gas_fit = fit_gas_world(gas, bars, pool_day, settings)
    gas_fit["spells"] = fit_gas_spells(gas, settings)
    return {"garch": garch, "mean_reversion": reversion, "per_regime": per_regime,
            "garch_start_log_sd": pooled_sd, "figures": figures,
            "drift": {"all_weeks": drifts["all_weeks"], "persistence": drifts["persistence"]},
            "volume": {**fit_volume_share(pool, bars, settings.rolling_days),
                       # Binance -> pool volume (the historical world's link; the regimes world's days carry
                       # the pool's own volume, whose level across years Binance does not explain)
                       "exchange_link": world_pool.fit_volume_link(5)._asdict()},
            "gas": gas_fit,
            "settings": {"first_day": settings.first_day, "window_days": settings.window_days,
                         "gas_window_days": settings.gas_window_days, "rolling_days": settings.rolling_days,
                         "level_days": settings.level_days},
            "inputs": ["history:" + name for name in HISTORY_FILES]}


MAX_PERSISTENCE = 0.999   # alpha + beta at most this (half-life 29 days): arch may stop at the bound 1


def stationary_beta(alpha: float, beta: float) -> float:
    """beta, lowered where the fit sits at (or past) the stationarity bound alpha + beta = 1 (an integrated
    GARCH, as refits on resampled weeks can give): the simulator needs a long-run variance to target."""
    return min(beta, MAX_PERSISTENCE - alpha)


def world_market(fit: dict[str, Any], gas_fit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The MarketConf numbers of the regimes world from `fit_world` (gas from `gas_fit`, the gas_regime
    query's fit, where the history does not cover the pool's days)."""
    per_regime = fit["per_regime"]
    market = {
        "garch_alpha": fit["garch"]["alpha"], "garch_beta": stationary_beta(fit["garch"]["alpha"], fit["garch"]["beta"]),
        "garch_start_log_sd": fit["garch_start_log_sd"], "variance_level_days": fit["garch"]["level_days"],
        "gas_spells_per_day": fit["gas"]["spells"]["gas_spells_per_day"],
        "mean_reversion_per_day": {r: (fit["mean_reversion"]["kappa_per_day"] if r == "mean_revert" else 0.0)
                                   for r in REGIMES},
        "volume_vol_share": fit["volume"]["volume_vol_share"],
    }
    market["gas_vol_elasticity"] = fit["gas"]["gas_vol_elasticity"]
    level = fit["gas"]["level"]
    if level is not None:
        market.update(gas_usd_median=level["gas_usd_median"], gas_dispersion=level["gas_dispersion"])
    elif gas_fit is not None:   # the live window: gas_regime's days are the pool's days
        market.update(gas_usd_median=gas_fit["gas_usd_median"], gas_dispersion=gas_fit["gas_usd_log_sigma"])
    # the world's own median volatility (at the mean level): gas there is at its level
    market["gas_ref_vol_annual"] = fit["garch"]["gas_ref_vol_annual"]
    for key in ("vol_annual", "jumps_per_day", "jump_size_std", "drift_annual", "drift_dispersion_annual"):
        market[key] = {r: per_regime[r][key] for r in REGIMES}
    return market
