"""The simulator's step in plain NumPy: a Python loop over time, arrays of shape (n_episodes,).

An independent port of `hbbatch.sim` (noise, price, pool, agent, env, metrics), written from the
same formulas, mostly in the same arithmetic order (Box-Muller's sin is taken directly here, derived
from cos in the JAX step), so that in float64 it agrees with the JAX rollout to rounding. It serves as the benchmark's baseline and as a cross-check of the JAX code
(tests/sim/test_numpy_reference.py). Only the names, the table layout and the parameter pytree are
shared with the package; every computation is redone here.

Per-episode constants (the regime's volatility, drift, ...) are gathered once instead of every
step: the values are the same, and a fair NumPy baseline would do the same.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from hbbatch.sim import OWNERS, REGIMES, RULES, RolloutSpec, SimParams
from hbbatch.sim.rollout import SimResult

LOG_TICK = 9.999500033330834e-05  # ln(1.0001)
SQRT_HALF_PI = 1.2533141373155001
MINUTES_PER_YEAR, DAYS_PER_YEAR = 525_600.0, 365.0
N_OWNERS = len(OWNERS)
OVERRIDE_HOLD, OVERRIDE_EXIT = 1, 2
DRAWDOWN_OWNER, MANUAL_OWNER = OWNERS.index("rail_drawdown"), OWNERS.index("manual_override")
OUT_OF_RANGE, WIDEN, NARROW, TREND_RULE = (RULES.index(r) for r in ("out_of_range", "vol_widen", "vol_narrow",
                                                                   "trend_shift"))
TREND_REGIME = REGIMES.index("trend_up")
U32 = np.uint32


# --- counter-hash noise (threefry seeds each episode, lowbias32 hashes the step counter)

def _rotl(x: np.ndarray, d: int) -> np.ndarray:
    return (x << U32(d)) | (x >> U32(32 - d))


def threefry2x32(key: tuple[np.ndarray, np.ndarray], x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Threefry-2x32 block cipher (20 rounds), as JAX's threefry2x32 primitive computes it."""
    k0, k1 = U32(key[0]), U32(key[1])
    ks = (k0, k1, k0 ^ k1 ^ U32(0x1BD11BDA))
    rotations = ((13, 15, 26, 6), (17, 29, 16, 24))
    x0, x1 = np.asarray(x0, U32) + ks[0], np.asarray(x1, U32) + ks[1]
    for block in range(5):
        for r in rotations[block % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + U32(block + 1)
    return x0, x1


def episode_keys(seed: int, episodes: np.ndarray) -> np.ndarray:
    """(2, n) uint32 counter keys: the key data of `fold_in(key(seed), episode)` with the threefry PRNG."""
    root = (U32(seed >> 32), U32(seed & 0xFFFFFFFF))              # key(seed) for a 64-bit seed
    zeros = np.zeros_like(episodes, dtype=U32)
    return np.stack(threefry2x32(root, zeros, episodes.astype(U32)))   # fold_in hashes (0, data)


def lowbias32(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> U32(16))
    x = x * U32(0x7FEB352D)
    x = x ^ (x >> U32(15))
    x = x * U32(0x846CA68B)
    return x ^ (x >> U32(16))


def uniforms(keys: np.ndarray, step: int, n: int, dtype) -> np.ndarray:
    """(n, n_episodes) uniforms in (0, 1) with 23-bit resolution."""
    step_hash = lowbias32(np.asarray([step], U32) * U32(0x9E3779B9) + U32(1))
    base = lowbias32(keys[0] ^ lowbias32(keys[1] ^ step_hash))
    streams = np.arange(1, n + 1, dtype=U32)[:, None] * U32(0x632BE5AB)
    bits = lowbias32(base[None, :] + streams)
    return ((bits >> U32(9)).astype(dtype) + 0.5) * (1.0 / (1 << 23))


def normal_pair(u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = (2.0 * math.pi) * u2
    return radius * np.cos(angle), radius * np.sin(angle)


# --- position math in human units

def value_per_liquidity(sqrt_price, sqrt_lower, sqrt_upper):
    s = np.minimum(np.maximum(sqrt_price, sqrt_lower), sqrt_upper)
    return (1.0 / s - 1.0 / sqrt_upper) * sqrt_price**2 + (s - sqrt_lower)


def eth_for_liquidity(sqrt_price, sqrt_lower, sqrt_upper, liquidity):
    s = np.minimum(np.maximum(sqrt_price, sqrt_lower), sqrt_upper)
    return liquidity * (1.0 / s - 1.0 / sqrt_upper)


def swap_cost_usd(swap_usd, fee_rate, sqrt_price, pool_liquidity):
    swap_usd = np.abs(swap_usd)
    return swap_usd * (fee_rate + swap_usd / (pool_liquidity * sqrt_price))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# --- the simulator

class Reference:
    """Episodes `0 .. n_episodes-1` of (spec, params, seed), stepped with NumPy."""

    def __init__(self, spec: RolloutSpec, params: SimParams, seed: int):
        if spec.record_path or spec.warmup_steps:
            raise ValueError("numpy_reference: record_path and warm-up are not ported; use RolloutSpec(record_path=False, "
                             "warmup_steps=0)")
        self.spec = spec
        self.m = SimpleNamespace(**{k: np.asarray(v) for k, v in params.market._asdict().items()})
        self.a = SimpleNamespace(**{k: np.asarray(v) for k, v in params.agent._asdict().items()})
        self.dtype = self.m.fee_rate.dtype
        m = self.m
        start_tick = np.round(np.log(m.price_start_usd) / LOG_TICK / m.tick_spacing) * m.tick_spacing
        self.base_sqrt = np.exp(0.5 * LOG_TICK * start_tick)
        self.t = 0
        self._reset(seed)

    def sqrt_price_of(self, log_price):
        return self.base_sqrt * np.exp(0.5 * log_price)

    def band_sqrt(self, tick):
        return self.base_sqrt * np.exp(0.5 * LOG_TICK * tick)

    def deployable(self, value, unit_value, pool_liquidity):
        a = self.a
        share_cap = a.max_pool_share / (1.0 - a.max_pool_share) * pool_liquidity
        capital_cap = a.max_capital_usd / unit_value
        return np.minimum(value / unit_value, np.minimum(share_cap, capital_cap))

    def classify(self, s):
        a = self.a
        alpha = a.classifier_alpha
        n_effective = (2.0 - alpha) / alpha
        variance = np.maximum(s.mean_sq_return - s.mean_return**2, 1e-30)
        t_stat = s.mean_return / np.sqrt(variance) * np.sqrt(n_effective)
        jump_share = s.mean_sq_jump / np.maximum(s.mean_sq_return, 1e-30)
        return np.where(t_stat >= a.trend_tstat, 2, np.where(jump_share >= a.jumpy_variance_share, 1, 0))

    def snap_band(self, center_tick, width_ticks):
        spacing = self.m.tick_spacing
        lower = np.round((center_tick - 0.5 * width_ticks) / spacing) * spacing
        width = np.maximum(np.ceil(width_ticks / spacing - 1e-6), 1.0) * spacing
        return lower, lower + width

    def _reset(self, seed: int) -> None:
        m, a, dt, n = self.m, self.a, self.dtype, self.spec.n_episodes
        keys = episode_keys(seed, np.arange(n, dtype=U32))
        u = uniforms(keys, 0xFFFFFFFF, 5, dt)
        regime = np.minimum(np.sum(u[0][None, :] >= m.regime_cdf[:, None], axis=0), len(REGIMES) - 1)
        pool_normal, drift_normal = normal_pair(u[1], u[2])
        variance_normal, _ = normal_pair(u[3], u[4])
        pool_liquidity = m.pool_liquidity * np.exp(m.pool_liquidity_dispersion * pool_normal)
        prior_vol = np.sum(m.vol_annual * np.diff(m.regime_cdf, prepend=np.zeros(1, dt)))
        step_var = prior_vol**2 * m.dt_years
        full = lambda value: np.full(n, value, dt)  # noqa: E731
        s = SimpleNamespace(
            keys=keys, regime=regime, pool_liquidity=pool_liquidity,
            log_price=full(0.0), gas_spell=np.zeros(n, bool),
            mean_abs_return=full(np.sqrt(step_var) / SQRT_HALF_PI), mean_return=full(0.0),
            mean_sq_return=full(step_var), mean_sq_jump=full(0.0), var_short=full(step_var), var_long=full(step_var),
            robust_var_short=full(step_var), robust_var_long=full(step_var), mean_volume_usd=full(m.volume_usd_per_step),
            steps_out_of_range=full(0.0), steps_since_action=full(1e9), steps_vol_high=full(0.0),
            steps_vol_low=full(0.0), window_gas_usd=full(0.0),
            stopped_until_step=full(0.0), stood_down=np.zeros(n, bool), owner=np.zeros(n, np.int64),
        )
        estimate = regime if self.spec.classifier == "oracle" else self.classify(s)
        # The opening band: the classified regime's width, funded from half ETH, half USD (the HODL
        # portfolio), paying the median gas and the swap into the band's ratio out of the capital deployed.
        s.tick_lower, s.tick_upper = self.snap_band(full(0.0), a.width_ticks[estimate])
        sqrt_price = self.sqrt_price_of(full(0.0))
        sqrt_lower = sqrt_price * np.exp(0.5 * LOG_TICK * s.tick_lower)
        sqrt_upper = sqrt_price * np.exp(0.5 * LOG_TICK * s.tick_upper)
        unit_value = value_per_liquidity(sqrt_price, sqrt_lower, sqrt_upper)
        s.hodl_eth, s.hodl_usd = full(0.5 * a.capital_usd / sqrt_price**2), full(0.5 * a.capital_usd)
        gas = full(m.gas_usd_median)

        def funded(value):
            liquidity = self.deployable(value, unit_value, pool_liquidity)
            eth = eth_for_liquidity(sqrt_price, sqrt_lower, sqrt_upper, liquidity)
            return liquidity, swap_cost_usd((s.hodl_eth - eth) * sqrt_price**2, m.fee_rate, sqrt_price, pool_liquidity)

        _, swap_estimate = funded(a.capital_usd)
        s.liquidity, swap_cost = funded(a.capital_usd - gas - swap_estimate)
        s.cash_usd = a.capital_usd - s.liquidity * unit_value - gas - swap_cost
        for name in ("fees_usd", "gas_usd", "swap_cost_usd", "lvr_usd", "actions", "widens", "steps_in_range",
                     "sum_sq_return", "max_drawdown", "emergency_stops"):
            setattr(s, "total_" + name, full(0.0))
        s.total_gas_usd, s.total_swap_cost_usd, s.total_actions = gas, swap_cost, full(1.0)
        s.window_gas_usd = gas.copy()   # the opening's gas counts in the first rail window
        s.peak_equity_usd = a.capital_usd - gas - swap_cost
        s.drawdown_exit = np.zeros(n, bool)
        for name in ("fires", "actions", "gas_usd", "pnl_usd"):
            setattr(s, "rule_" + name, np.zeros((n, N_OWNERS), dt))
        s.rule_actions[:, 0], s.rule_gas_usd[:, 0] = 1.0, gas
        s.rule_pnl_usd[:, 0] = -(gas + swap_cost)   # the opening's costs, against HODL
        s.classified_steps = np.zeros((n, len(REGIMES)), dt)
        # The regime's market numbers, gathered once per episode.
        sigma = m.vol_annual[regime]
        jump_prob = m.jumps_per_day[regime] * DAYS_PER_YEAR * m.dt_years
        jump_std = m.jump_size_std[regime]
        s.sigma = sigma
        drift = m.drift_annual[regime] + m.drift_dispersion_annual[regime] * drift_normal
        s.drift_step = drift * m.dt_years
        # GARCH(1,1) on the hourly innovation (diffusion + jumps); h / long run scales both
        s.hours_per_step = m.dt_years * 8760.0
        s.steps_per_hour = np.maximum(np.round(1.0 / s.hours_per_step), 1.0)
        long_run = sigma**2 / 8760.0 + jump_prob / s.hours_per_step * jump_std**2
        s.long_run = long_run
        s.omega = (1.0 - m.garch_alpha - m.garch_beta) * long_run
        spread = m.garch_start_log_sd
        s.variance_hour = long_run * np.exp(spread * variance_normal - 0.5 * spread**2)
        s.hour_innovation = full(0.0)
        s.kappa_dt = m.mean_reversion_per_day[regime] * DAYS_PER_YEAR * m.dt_years
        s.jump_prob, s.jump_std, s.sigma_sqrt_dt = jump_prob, jump_std, sigma * np.sqrt(m.dt_years)
        s.ref_abs_move = m.volume_ref_vol_annual * np.sqrt(m.dt_years * (2.0 / math.pi))
        self.s = s

    def step(self) -> None:
        m, a, s, spec = self.m, self.a, self.s, self.spec
        t = self.t
        t_float = self.dtype.type(t)
        rows = np.arange(spec.n_episodes)

        # --- the world's move (independent of the agent)
        u = uniforms(s.keys, t, 6, self.dtype)
        z_price, z_gas = normal_pair(u[0], u[1])
        z_jump, z_volume = normal_pair(u[2], u[3])
        ratio = np.where(s.long_run > 0, s.variance_hour / np.where(s.long_run > 0, s.long_run, 1.0), 1.0)
        variance_step = s.sigma_sqrt_dt**2 * ratio
        diffusive = np.sqrt(variance_step) * z_price
        jump = np.where(u[4] < s.jump_prob, np.sqrt(ratio) * s.jump_std * z_jump, 0.0)
        compensation = s.jump_prob * (np.exp(0.5 * ratio * s.jump_std**2) - 1.0)
        log_return = s.drift_step - 0.5 * variance_step - compensation - s.kappa_dt * s.log_price + diffusive + jump
        vol_now = np.sqrt(s.variance_hour * 8760.0)
        hour_innovation = s.hour_innovation + diffusive + jump
        hour_ends = np.mod(t_float + 1.0, s.steps_per_hour) == 0.0
        per_hour_sq = hour_innovation**2 / np.maximum(s.steps_per_hour * s.hours_per_step, 1.0)
        s.variance_hour = np.where(hour_ends, s.omega + m.garch_alpha * per_hour_sq + m.garch_beta * s.variance_hour,
                                   s.variance_hour)
        s.hour_innovation = np.where(hour_ends, 0.0, hour_innovation)
        activity = (1.0 - m.volume_vol_share) + m.volume_vol_share * np.abs(diffusive + jump) / s.ref_abs_move
        volume = m.volume_usd_per_step * activity * np.exp(0.3 * z_volume - 0.045)
        switch = np.where(s.gas_spell, u[5] < m.gas_spell_exit_prob, u[5] < m.gas_spell_enter_prob)

        # --- what the agent sees
        sqrt_price = self.sqrt_price_of(s.log_price)
        price_usd = sqrt_price**2
        tick = s.log_price / LOG_TICK
        sqrt_lower, sqrt_upper = self.band_sqrt(s.tick_lower), self.band_sqrt(s.tick_upper)
        value = s.liquidity * value_per_liquidity(sqrt_price, sqrt_lower, sqrt_upper)
        equity = value + s.cash_usd
        relative_start = equity - (s.hodl_eth * price_usd + s.hodl_usd)
        estimate = s.regime if spec.classifier == "oracle" else self.classify(s)

        # --- the first enabled rule that fires, and its band
        lower, upper = s.tick_lower, s.tick_upper
        width = upper - lower
        centre = 0.5 * (lower + upper)
        base = a.width_ticks[estimate]
        in_range = (tick >= lower) & (tick < upper)
        triggers = np.stack([
            (s.steps_out_of_range >= a.rebalance_after_steps) & ~in_range,
            in_range & (np.minimum(tick - lower, upper - tick) < a.edge_fraction * width),
            (s.steps_vol_high >= a.vol_persist_steps) & (width < a.max_width_ticks),
            (s.steps_vol_low >= a.vol_persist_steps) & (width > 1.01 * base),
            (estimate == TREND_REGIME) & in_range & (tick - centre > a.trend_shift_fraction * 0.5 * width),
        ]) & a.rule_enabled[:, None]
        rule = np.argmax(triggers, axis=0)
        fired = np.any(triggers, axis=0) & (s.liquidity > 0)
        new_width = np.where(rule == WIDEN, np.maximum(np.minimum(width * a.widen_factor, a.max_width_ticks), base),
                             np.where(rule == NARROW, np.maximum(width / a.widen_factor, base), np.maximum(base, width)))
        skew = np.where(rule == TREND_RULE, a.trend_shift_fraction * 0.5 * new_width, 0.0)
        proposed_lower, proposed_upper = self.snap_band(tick + skew, new_width)
        # single-sided re-entry: beside the price, on the side the token held funds alone
        spacing = m.tick_spacing
        single_sided = (rule == OUT_OF_RANGE) & a.reentry_single_sided & ~in_range
        snapped_width = proposed_upper - proposed_lower
        side_lower = np.where(tick >= upper, np.floor(tick / spacing) * spacing - snapped_width,
                              np.ceil(tick / spacing) * spacing)
        proposed_lower = np.where(single_sided, side_lower, proposed_lower)
        proposed_upper = np.where(single_sided, side_lower + snapped_width, proposed_upper)

        # --- its cost, the gate, the rails
        new_sqrt_lower, new_sqrt_upper = self.band_sqrt(proposed_lower), self.band_sqrt(proposed_upper)
        new_unit_value = value_per_liquidity(sqrt_price, new_sqrt_lower, new_sqrt_upper)
        new_liquidity = self.deployable(value, new_unit_value, s.pool_liquidity)
        eth_held = eth_for_liquidity(sqrt_price, sqrt_lower, sqrt_upper, s.liquidity)
        eth_target = eth_for_liquidity(sqrt_price, new_sqrt_lower, new_sqrt_upper, new_liquidity)
        rebalance_swap_cost = swap_cost_usd((eth_held - eth_target) * price_usd, m.fee_rate, sqrt_price,
                                            s.pool_liquidity)
        if spec.gating == "ev" and bool(a.ev_gate):
            variance = 0.5 * (s.var_short + s.var_long)
            half_width = 0.5 * (proposed_upper - proposed_lower) * LOG_TICK
            holding = np.clip(half_width**2 / np.maximum(variance, 1e-30), 1.0, a.ev_horizon_steps)
            horizon_sd = np.sqrt(variance * 0.5 * holding) + 1e-12
            lvr_per_liquidity = 0.25 * variance * sqrt_price

            def net_rate_of(liquidity, lower_tick, upper_tick):
                p_in = (sigmoid(1.702 * ((upper_tick * LOG_TICK - s.log_price) / horizon_sd))
                        - sigmoid(1.702 * ((lower_tick * LOG_TICK - s.log_price) / horizon_sd)))
                fees = m.fee_rate * s.mean_volume_usd / (liquidity + s.pool_liquidity)
                return liquidity * p_in * (fees - lvr_per_liquidity)

            drift = np.where(estimate == TREND_REGIME, s.mean_return, 0.0)
            gain = holding * (net_rate_of(new_liquidity, proposed_lower, proposed_upper)
                                         - net_rate_of(s.liquidity, lower, upper)
                                         + drift * price_usd * (eth_target - eth_held))
            net_gain = gain - rebalance_swap_cost
            passes_gate = net_gain - a.gas_usd >= a.fee_gate_usd
        else:
            passes_gate = True
        override_active = t_float >= a.override_from_step
        free = ((s.steps_since_action >= a.cooldown_steps) & (t_float >= s.stopped_until_step)
                & (s.total_actions + 2.0 <= a.max_actions_per_episode) & ~s.stood_down
                & ~(override_active & (a.override_mode == OVERRIDE_HOLD)))
        considered = fired & free
        exit_allowed = ~s.stood_down & (s.total_actions + 1.0 <= a.max_actions_per_episode)
        drawdown_trip = (equity < (1.0 - a.max_drawdown) * s.peak_equity_usd) & exit_allowed & (s.liquidity > 0)
        manual_exit = override_active & (a.override_mode == OVERRIDE_EXIT) & exit_allowed
        exit_now = drawdown_trip | manual_exit
        spell = np.where(s.gas_spell, m.gas_spell_multiplier, 1.0)
        gas_quote = (m.gas_usd_median * np.exp(m.gas_dispersion * z_gas) * spell
                     * (vol_now / m.gas_ref_vol_annual) ** m.gas_vol_elasticity)
        wanted = considered & passes_gate & ~exit_now
        within_cap = s.window_gas_usd + gas_quote <= a.gas_cap_usd_per_window
        rebalance = wanted & within_cap
        trip = wanted & ~within_cap
        acted = rebalance | exit_now
        owner = np.where(manual_exit, MANUAL_OWNER, np.where(drawdown_trip, DRAWDOWN_OWNER,
                                                             np.where(rebalance, rule + 1, s.owner)))

        # --- execute at the current price; gas from the world (the spell as it stood before this step)
        gas = np.where(acted, gas_quote, 0.0)
        exit_swap_cost = swap_cost_usd(eth_held * price_usd, m.fee_rate, sqrt_price, s.pool_liquidity)
        swap_cost = np.where(exit_now, exit_swap_cost, np.where(rebalance, rebalance_swap_cost, 0.0))
        liquidity = np.where(exit_now, 0.0, np.where(rebalance, new_liquidity, s.liquidity))
        moved = rebalance & ~exit_now
        new_lower = np.where(moved, proposed_lower, lower)
        new_upper = np.where(moved, proposed_upper, upper)
        sqrt_lower, sqrt_upper = self.band_sqrt(new_lower), self.band_sqrt(new_upper)
        value_after = liquidity * value_per_liquidity(sqrt_price, sqrt_lower, sqrt_upper)
        cash = s.cash_usd + (value - value_after) - gas - swap_cost

        # --- the price moves; fees and LVR on the band now held
        log_price = s.log_price + log_return
        log_lower, log_upper = new_lower * LOG_TICK, new_upper * LOG_TICK
        lo, hi = np.minimum(s.log_price, log_price), np.maximum(s.log_price, log_price)
        overlap = np.maximum(np.minimum(hi, log_upper) - np.maximum(lo, log_lower), 0.0)
        span = hi - lo
        inside_before = (s.log_price >= log_lower) & (s.log_price < log_upper)
        fraction_in = np.where(span > 0.0, overlap / np.where(span > 0.0, span, 1.0), inside_before.astype(self.dtype))
        share = liquidity / (liquidity + s.pool_liquidity)
        fees = m.fee_rate * volume * share * fraction_in
        in_range_now = inside_before & (liquidity > 0)
        cash = cash + fees
        next_sqrt_price = self.sqrt_price_of(log_price)
        # loss against holding the step's starting ETH: x(P0)(P1 - P0) - (V(P1) - V(P0)), closed form
        a_clip = np.clip(sqrt_price, sqrt_lower, sqrt_upper)
        c_clip = np.clip(next_sqrt_price, sqrt_lower, sqrt_upper)
        lvr = liquidity * ((c_clip - a_clip) ** 2 / a_clip
                           + (1.0 / a_clip - 1.0 / c_clip) * (next_sqrt_price**2 - c_clip**2))
        equity_next = liquidity * value_per_liquidity(next_sqrt_price, sqrt_lower, sqrt_upper) + cash
        relative_next = equity_next - (s.hodl_eth * next_sqrt_price**2 + s.hodl_usd)

        # --- memory and rails
        # wholly out of range over the step: judged on the step's high-low range (start and end here)
        high, low = s.log_price + np.maximum(log_return, 0.0), s.log_price + np.minimum(log_return, 0.0)
        out_of_range = ((high < new_lower * LOG_TICK) | (low >= new_upper * LOG_TICK)) & (liquidity > 0)
        window = a.gas_window_steps
        window_start = (np.floor((t_float + 1.0) / window) * window) == t_float + 1.0
        s.window_gas_usd = np.where(window_start, 0.0, s.window_gas_usd + gas)
        s.stopped_until_step = np.where(trip, (np.floor(t_float / window) + 1.0) * window, s.stopped_until_step)
        alpha = a.classifier_alpha
        threshold = a.jump_sigmas * (s.mean_abs_return * SQRT_HALF_PI)
        r_sq = log_return**2
        s.mean_abs_return = s.mean_abs_return + alpha * (np.minimum(np.abs(log_return), threshold) - s.mean_abs_return)
        s.mean_return = s.mean_return + alpha * (log_return - s.mean_return)
        s.mean_sq_return = s.mean_sq_return + alpha * (r_sq - s.mean_sq_return)
        s.mean_sq_jump = s.mean_sq_jump + alpha * (np.where(np.abs(log_return) > threshold, r_sq, 0.0) - s.mean_sq_jump)
        s.var_short = s.var_short + a.vol_short_alpha * (r_sq - s.var_short)
        s.var_long = s.var_long + a.vol_long_alpha * (r_sq - s.var_long)
        robust_sq = np.minimum(r_sq, threshold**2)
        s.robust_var_short = s.robust_var_short + a.vol_short_alpha * (robust_sq - s.robust_var_short)
        s.robust_var_long = s.robust_var_long + a.vol_long_alpha * (robust_sq - s.robust_var_long)
        ratio = np.sqrt(s.robust_var_short / np.maximum(s.robust_var_long, 1e-30))
        s.steps_vol_high = np.where((ratio > a.vol_widen_ratio) & ~acted, s.steps_vol_high + 1.0, 0.0)
        s.steps_vol_low = np.where((ratio < a.vol_narrow_ratio) & ~acted, s.steps_vol_low + 1.0, 0.0)
        s.mean_volume_usd = s.mean_volume_usd + a.vol_long_alpha * (volume - s.mean_volume_usd)
        s.steps_out_of_range = np.where(out_of_range, s.steps_out_of_range + 1.0, 0.0)
        s.steps_since_action = np.where(acted, 1.0, s.steps_since_action + 1.0)
        widened = moved & (rule == WIDEN)   # by the rule's intent

        # --- totals and attribution to whoever set the position held over the move
        s.total_fees_usd += fees
        s.total_gas_usd += gas
        s.total_swap_cost_usd += swap_cost
        s.total_lvr_usd += lvr
        s.total_actions += acted
        s.total_widens += widened
        s.total_steps_in_range += in_range_now
        s.total_sum_sq_return += r_sq
        s.peak_equity_usd = np.maximum(s.peak_equity_usd, equity_next)
        s.total_max_drawdown = np.maximum(s.total_max_drawdown, (s.peak_equity_usd - equity_next) / s.peak_equity_usd)
        s.total_emergency_stops += trip
        s.drawdown_exit = s.drawdown_exit | drawdown_trip
        s.rule_fires[rows, rule + 1] += considered
        s.rule_actions[rows, owner] += acted
        s.rule_gas_usd[rows, owner] += gas
        s.rule_pnl_usd[rows, owner] += relative_next - relative_start
        s.classified_steps[rows, estimate] += 1.0
        s.stood_down = s.stood_down | exit_now
        s.owner = owner
        s.log_price, s.gas_spell, s.cash_usd = log_price, s.gas_spell ^ switch, cash
        s.liquidity, s.tick_lower, s.tick_upper = liquidity, new_lower, new_upper
        self.t = t + 1

    def run(self, n_steps: int | None = None) -> None:
        for _ in range(self.spec.n_steps if n_steps is None else n_steps):
            self.step()

    def result(self) -> SimResult:
        """The same tables as `hbbatch.sim.simulate`, from the state after the steps run so far."""
        s, m, a, n = self.s, self.m, self.a, self.spec.n_episodes
        sqrt_price = self.sqrt_price_of(s.log_price)
        price_end = sqrt_price**2
        equity = (s.liquidity * value_per_liquidity(sqrt_price, self.band_sqrt(s.tick_lower),
                                                    self.band_sqrt(s.tick_upper)) + s.cash_usd)
        hodl = s.hodl_eth * price_end + s.hodl_usd
        capital = np.full(n, a.capital_usd)
        n_steps = self.dtype.type(self.t)
        episodes = {
            "episode": np.arange(n, dtype=np.int64),
            "regime": np.asarray(REGIMES, dtype=object)[s.regime],
            "price_start": np.full(n, self.sqrt_price_of(np.zeros((), self.dtype)) ** 2),
            "price_end": price_end,
            "realized_vol": np.sqrt(s.total_sum_sq_return / (n_steps * m.dt_years)),
            "fees_usd": s.total_fees_usd, "gas_usd": s.total_gas_usd, "swap_cost_usd": s.total_swap_cost_usd,
            "capital_usd": capital, "equity_usd": equity, "net_pnl_usd": equity - capital,
            "return": (equity - capital) / capital, "hodl_usd": hodl, "pnl_vs_hodl_usd": equity - hodl,
            "lvr_usd": s.total_lvr_usd, "actions": s.total_actions.astype(np.int64),
            "widens": s.total_widens.astype(np.int64), "time_in_range": s.total_steps_in_range / n_steps,
            "max_drawdown": s.total_max_drawdown, "emergency_stops": s.total_emergency_stops.astype(np.int64),
            "drawdown_exit": s.drawdown_exit,
            **{f"steps_classified_{r}": s.classified_steps[:, i] for i, r in enumerate(REGIMES)},
        }
        rules = {
            "episode": np.repeat(np.arange(n, dtype=np.int64), N_OWNERS),
            "rule": np.tile(np.asarray(OWNERS, dtype=object), n),
            "fires": s.rule_fires.reshape(-1).astype(np.int64),
            "actions": s.rule_actions.reshape(-1).astype(np.int64),
            "gas_usd": s.rule_gas_usd.reshape(-1),
            "attributed_pnl_usd": s.rule_pnl_usd.reshape(-1),
        }
        return SimResult(episodes=episodes, rules=rules, path=None)


def simulate(spec: RolloutSpec, params: SimParams, seed: int) -> SimResult:
    """NumPy counterpart of `hbbatch.sim.simulate` (episodes 0 .. n_episodes-1, no path)."""
    reference = Reference(spec, params, seed)
    reference.run()
    return reference.result()
