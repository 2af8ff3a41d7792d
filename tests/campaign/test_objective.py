"""The optimiser's walk-forward split and objective, against hand-built episodes."""

import pandas as pd
import pytest

from hbbatch.campaign.objective import split_episodes, walk_forward


def _episodes(n, gain_in, gain_out, first_out):
    base = pd.DataFrame({"seed": 1, "episode": range(n), "regime": "mean_revert", "net_pnl_usd": 100.0})
    trial = base.copy()
    trial["net_pnl_usd"] = [100.0 + (gain_in if e < first_out else gain_out) + (e % 3 - 1) for e in range(n)]
    return trial, base


def test_split_episodes__earlier_windows_in_sample_later_out_of_sample():
    frame = pd.DataFrame({"episode": range(10)})
    inside, outside, first_out = split_episodes(frame, 0.6)
    assert list(inside["episode"]) == list(range(6)) and list(outside["episode"]) == list(range(6, 10))
    assert first_out == 6
    inside, outside, _ = split_episodes(frame, 0.999)     # always something out of sample
    assert len(outside) == 1


def test_walk_forward__reports_both_halves_per_week():
    trial, base = _episodes(40, gain_in=30.0, gain_out=-10.0, first_out=20)
    result = walk_forward(trial, base, fit_share=0.5, weeks_per_episode=0.5, confidence=0.95, n_bootstrap=500, seed=1)
    # by hand: in-sample Δ = 30 + mean(e % 3 - 1 for e < 20), per week ×2
    offsets_in = [e % 3 - 1 for e in range(20)]
    offsets_out = [e % 3 - 1 for e in range(20, 40)]
    assert result["in_sample"]["mean_diff"] == pytest.approx(2 * (30 + sum(offsets_in) / 20))
    assert result["out_of_sample"]["mean_diff"] == pytest.approx(2 * (-10 + sum(offsets_out) / 20))
    assert result["out_of_sample"]["boot_high"] < 0 < result["in_sample"]["boot_low"]
    assert result["in_sample"]["n_pairs"] == result["out_of_sample"]["n_pairs"] == 20
