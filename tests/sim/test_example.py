"""The documented action log: one line per action, the opening included, and the episode's totals."""

import re

from hbbatch.sim.example import action_log


def test_example__the_action_log_lists_every_action_of_the_episode():
    lines = action_log("jumpy", seed=42, days=1.0, gating="off", agent={"rules": {"rebalance_after_minutes": 5}},
                       warmup_minutes=60)
    assert lines[0].startswith("episode ") and "true regime jumpy" in lines[0]
    assert " open " in lines[2] and "initial" in lines[2]
    actions = int(re.search(r"^actions (\d+)", lines[-1]).group(1))
    assert len(lines) - 3 == actions   # header, column names and totals around one line per action
