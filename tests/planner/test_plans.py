"""plan.json: every field serialised, written atomically, read back equal."""

from __future__ import annotations

import json

import pytest

from hbbatch.planner.plans import Plan, reason_kind
from hbbatch.planner.schedule import plan
from hbbatch.planner.state import CacheState


def test_plan_json__round_trip_and_fields(tmp_path, roadmap_catalog):
    the_plan = plan(roadmap_catalog, CacheState(), {"drawdown": 0.3}, None, 1_700_006_400 + 3600)
    path = the_plan.write_json(tmp_path / "plan.json")
    data = json.loads(path.read_text())
    assert data["expected_credits"] == the_plan.expected_credits == 10 + 5 + 5 + 10 + 10 + 20
    assert data["risk_signals"] == ["drawdown"] and data["max_priority"] == "P2"
    assert {c["query"]: c["reason"] for c in data["choices"]}["mev_toxicity"] == "expensive cap"
    assert data["signal_age_s"]["mev_share"] is None
    assert Plan.from_dict(data) == the_plan


def test_write_json__a_failed_write_leaves_the_old_file(tmp_path, roadmap_catalog, monkeypatch):
    the_plan = plan(roadmap_catalog, CacheState(), {}, None, 1_700_006_400)
    path = the_plan.write_json(tmp_path / "plan.json")
    before = path.read_text()
    monkeypatch.setattr(Plan, "to_dict", lambda self: {"bad": object()})     # not serialisable
    with pytest.raises(TypeError):
        the_plan.write_json(path)
    assert path.read_text() == before
    assert not list(tmp_path.glob(".plan.json.*"))          # no temporary file left behind


def test_reason_kind():
    assert reason_kind("dominated by gas_regime") == "dominated by"
    assert reason_kind("risk signal: drawdown") == "risk signal"
    assert reason_kind("over budget") == "over budget"
