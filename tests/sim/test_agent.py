"""The agent's online regime classifier against the regime that generated the path."""

import numpy as np
import pytest

from hbbatch.sim import REGIMES, RolloutSpec, make_params, simulate

# Clear-cut regimes: a strong trend, frequent large jumps, a quiet range. The classifier should name
# each after its first day (its half-life is one day).
# (The fitted world's regimes are not clear-cut: every regime has jumps and clustered volatility.)
MARKET = {"drift_annual": {"trend_up": 20.0}, "drift_dispersion_annual": {"trend_up": 0.0},
          "jumps_per_day": {"mean_revert": 0.0, "jumpy": 12.0, "trend_up": 0.0}, "jump_size_std": {"jumpy": 0.01},
          "vol_annual": {"mean_revert": 0.5, "jumpy": 0.5, "trend_up": 0.5}, "garch_alpha": 0.0, "garch_beta": 0.0,
          "garch_start_log_sd": 0.0}


@pytest.mark.parametrize("regime", REGIMES)
def test_agent__online_classifier_recognises_the_regime(regime):
    mix = {r: float(r == regime) for r in REGIMES}
    spec = RolloutSpec(n_episodes=64, n_steps=4 * 1440, gating="off", record_path=True)
    result = simulate(spec, make_params(market=MARKET, agent={"rules": {"enabled": []}}, regime_mix=mix), 7)
    after_first_day = result.path.regime_estimate[:, 1440:]
    share = np.mean(after_first_day == REGIMES.index(regime))
    assert share > 0.6, f"{regime}: classified correctly {share:.0%} of the time"
