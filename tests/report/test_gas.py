"""Gas believed against gas charged: figures by hand from the episodes, warnings past the configured factor
either way, none for a variant without the gate; a run's summary and verdict carry them."""

import json

import pandas as pd
import pytest

from hbbatch.report.gas import belief, charged, gas_lines, gas_rows
from tests.test_cli import run_cli


def _episodes(gas, actions, stops):
    return pd.DataFrame({"gas_usd": gas, "actions": actions, "emergency_stops": stops})


def _manifest(gas_usd, gating, cap=60.0):
    return {"config": {"gating": {"mode": gating},
                       "agent": {"gas_usd": gas_usd, "fee_gate_usd": 2 * gas_usd,
                                 "rails": {"gas_cap_usd_per_window": cap, "gas_window_minutes": 1440.0}}}}


def test_gas__charged_per_action_is_the_gas_paid_over_the_actions_taken():
    frame = _episodes([10.0, 30.0, 0.0, 60.0], [1, 3, 0, 2], [0, 2, 0, 1])
    out = charged(frame)
    assert out["charged_usd_per_action"] == pytest.approx(100.0 / 6.0)
    # per episode with an action: 10, 10, 30 a piece
    assert out["charged_usd_per_action_q50"] == pytest.approx(10.0)
    assert out["charged_usd_per_action_q90"] == pytest.approx(10.0 + 0.8 * 20.0)
    assert out["emergency_stops_per_episode"] == pytest.approx(0.75)
    assert out["emergency_stop_share"] == pytest.approx(0.5)


def test_gas__a_gated_belief_off_by_more_than_the_factor_warns_either_way_and_the_ungated_never():
    dear = _episodes([40.0, 40.0], [1, 1], [1, 0])            # $40 an action
    cheap = _episodes([0.5, 0.5], [1, 1], [0, 0])             # $0.50 an action
    episodes = {"historical": {"A": dear, "C": dear}, "stress_l2_gas": {"C": cheap}}
    beliefs = {("A", "historical"): belief(_manifest(2.0, "off")), ("C", "historical"): belief(_manifest(1.83, "ev")),
               ("C", "stress_l2_gas"): belief(_manifest(1.83, "ev"))}
    rows = {(r["world"], r["variant"]): r for r in gas_rows(episodes, beliefs, factor=2.0)}
    assert rows["historical", "C"]["charged_over_believed"] == pytest.approx(40.0 / 1.83)
    assert rows["historical", "C"]["warn"] and rows["stress_l2_gas", "C"]["warn"]
    assert not rows["historical", "A"]["warn"]               # no gate: its belief is never used
    lenient = {(r["world"], r["variant"]): r for r in gas_rows(episodes, beliefs, factor=25.0)}
    assert not lenient["historical", "C"]["warn"] and not lenient["stress_l2_gas", "C"]["warn"]   # 22x, 3.7x
    assert [r["warn"] for r in gas_rows({"l2": {"C": cheap}}, {("C", "l2"): beliefs["C", "stress_l2_gas"]}, 3.5)] == [True]
    lines = gas_lines(list(rows.values()), 2.0)
    assert lines[0] == ("gas in historical: the world charged $40.00 (A), $40.00 (C) an action (per episode q10-q90 "
                        "$40.00-$40.00); believed A $2.00 (gate off), C $1.83; emergency stop (cap $60.00 per 1440 "
                        "min) tripped in 50 % of A's, 50 % of C's episodes")
    assert lines[1].endswith("believed C $1.83; emergency stop never tripped")
    assert lines[2:] == [
        "warning: gas belief: C's gate believes $1.83 an action but historical charged $40.00 (22x; more than "
        "report.gas_belief_factor=2x apart): its gate is judged at a gas it does not expect",
        "warning: gas belief: C's gate believes $1.83 an action but stress_l2_gas charged $0.50 (0.27x; more than "
        "report.gas_belief_factor=2x apart): its gate is judged at a gas it does not expect"]

def test_gas__a_run_states_believed_and_charged_gas_in_its_summary_and_verdict(tmp_path):
    code = run_cli("n_episodes=8", "n_steps=120", "stats.n_bootstrap=100", "world.validate=false", "-m",
                   "campaign=A,C", "criteria.enabled=false", "report.html=false", "world.gas_median_usd=40",
                   f"hydra.sweep.dir={tmp_path}")
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = {r["variant"]: r for r in summary["gas"]}
    assert rows["C"]["gas_usd"] == pytest.approx(1.827, abs=1e-3) and rows["C"]["gate"] is True
    assert rows["A"]["gas_usd"] == 2.0 and rows["A"]["gate"] is False
    # a week opened at $40-a-recenter gas: the opening band alone costs about that
    assert rows["C"]["charged_usd_per_action"] > 10 and rows["C"]["warn"] and not rows["A"]["warn"]
    risks = summary["verdict"]["risks"]
    assert any(r.startswith("gas in historical: the world charged $") for r in risks)
    assert any(r.startswith("warning: gas belief: C's gate believes $1.83 an action") for r in risks)
