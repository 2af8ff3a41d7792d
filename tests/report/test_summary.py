"""Per-variant numbers by hand: hard cap windows, rule shares, widen share."""

import pandas as pd
import pytest

from hbbatch.report.summary import max_actions_per_window, rule_totals, summarize, variant_row


def test_max_actions_per_window__rolling_sum_over_consecutive_episodes():
    episodes = pd.DataFrame({"episode": [3, 0, 1, 2, 4], "actions": [5, 1, 0, 7, 2]})   # unordered on purpose
    # by episode: 1 0 7 5 2 -> windows of 2: 1 7 12 7; of 3: 8 12 14
    assert max_actions_per_window(episodes, 2) == 12
    assert max_actions_per_window(episodes, 3) == 14
    assert max_actions_per_window(episodes, 10) == 15    # fewer episodes than N: all of them


def test_rule_totals__shares_exclude_the_initial_position():
    rules = pd.DataFrame({
        "episode": [0, 0, 0, 1, 1, 1], "rule": ["initial", "edge", "vol_spike_widen"] * 2,
        "fires": [0, 4, 1, 0, 2, 3], "actions": [0, 2, 1, 0, 1, 0],
        "gas_usd": [0, 8, 4, 0, 4, 0], "attributed_pnl_usd": [100, -30, 5, 50, 10, -1]})
    table = rule_totals(rules).set_index("rule")
    assert table.loc["edge", "actions"] == 3 and table.loc["edge", "action_share"] == pytest.approx(0.75)
    assert table.loc["vol_spike_widen", "action_share"] == pytest.approx(0.25)
    assert table.loc["initial", "action_share"] == 0.0 and not table.loc["initial", "bad"]
    assert table.loc["edge", "bad"] and not table.loc["vol_spike_widen", "bad"]   # -20 vs +4


def test_summarize__widen_share_is_total_widens_over_total_actions():
    episodes = pd.DataFrame({"episode": range(4), "regime": ["mean_revert", "jumpy", "trend_up", "jumpy"],
                             "net_pnl_usd": [10.0, -5.0, 3.0, 0.0], "return": [1e-4, -5e-5, 3e-5, 0.0],
                             "gas_usd": [2.0, 4.0, 0.0, 6.0], "actions": [1, 2, 0, 3], "widens": [1, 0, 0, 1]})
    rules = pd.DataFrame({"episode": [0], "rule": ["edge"], "fires": [1], "actions": [1], "gas_usd": [2.0],
                          "attributed_pnl_usd": [1.0]})
    summary = summarize(episodes, rules, rails={"max_actions": 4, "max_actions_episodes": 2}, confidence=0.95,
                        n_bootstrap=200, seed=0, label="B",
                        metrics=("net_pnl_usd", "return", "gas_usd", "actions", "widen_share", "widens"))
    assert summary["metrics"]["widen_share"]["estimate"] == pytest.approx(2 / 6)
    assert summary["per_regime"]["jumpy"]["n"] == 2
    assert summary["per_regime"]["jumpy"]["gas_usd"] == pytest.approx(5.0)
    assert summary["hard_cap"] == {"max_actions": 4, "window_episodes": 2, "max_actions_per_window": 3}   # 1+2, 2+0, 0+3
    row = variant_row("B", summary)
    assert row["gas_per_episode_usd"] == pytest.approx(3.0) and row["total_actions"] == 6
    assert row["net_pnl_usd_mean"] == pytest.approx(2.0)
