"""A bad planner config fails with one line naming the field and the fix."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from hbbatch.config.planner import PlannerConf
from hbbatch.planner.catalog import QuerySpec
from hbbatch.planner.settings import PlannerConfigError, p0_credits_per_day, settings_from


@pytest.mark.parametrize("conf, field, fix", [
    ({"normal": {"max_priority": "P3"}}, "planner.normal.max_priority", "use one of P0, P1, P2"),
    ({"risk": {"max_priority": "high"}}, "planner.risk.max_priority", "use one of P0, P1, P2"),
    ({"refresh_s": {"P4": 10}}, "planner.refresh_s key 'P4'", "unknown priority"),
    ({"ttl_overrides_s": {"liquidity_depth": -60}}, "planner.ttl_overrides_s.liquidity_depth", "use a whole number"),
    ({"ttl_overrides_s": {"no_such_query": 60}}, "planner.ttl_overrides_s.no_such_query", "use one of gas_regime"),
    ({"refresh_s": {"P1": -1}}, "planner.refresh_s.P1", "use a whole number"),
    ({"mode": "turbo"}, "planner.mode", "use one of auto, normal, high_churn"),
    ({"high_churn": {"max_expensive": -1}}, "planner.high_churn.max_expensive", "use a whole number"),
    ({"budget_credits_per_day": 479}, "planner.budget_credits_per_day", "raise it to at least 480"),
    ({"cycle_s": 0}, "planner.cycle_s", "use the planning period"),
    ({"voi": {"feeds": {"gas_usd": ["ev_gates"]}}}, "planner.voi.feeds.gas_usd", "use one of ev_gate"),
    ({"no_such_field": 1}, "planner.no_such_field", "hbbatch/config/planner.py"),
    ({"cycle_s": "hourly"}, "planner.cycle_s", "hbbatch/config/planner.py"),
])
def test_bad_config__one_line_naming_field_and_fix(roadmap_catalog_static, conf, field, fix):
    with pytest.raises(PlannerConfigError) as info:
        settings_from(conf, roadmap_catalog_static)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(field), message
    assert fix in message, message


def test_budget_floor_is_the_p0_daily_need(roadmap_catalog_static):
    # gas_regime 10 + pool_hourly_fees 5 + realized_vol_jumps 5 credits, hourly: 24 x 20 = 480
    s = settings_from({"budget_credits_per_day": 480}, roadmap_catalog_static)
    assert p0_credits_per_day(roadmap_catalog_static, s) == 480
    # a 2-hour cycle halves the runs; a 45-minute one finds the 1-hour TTL over every second cycle
    # (90 min): 16 runs a day
    s = settings_from({"budget_credits_per_day": 240, "cycle_s": 7200}, roadmap_catalog_static)
    assert p0_credits_per_day(roadmap_catalog_static, s) == 240
    s = settings_from({"budget_credits_per_day": 320, "cycle_s": 2700}, roadmap_catalog_static)
    assert p0_credits_per_day(roadmap_catalog_static, s) == 320


def test_expensive_p0_is_refused():
    spec = QuerySpec(name="big", priority="P0", cost_credits=1, cost_class="expensive", expensive=True, ttl_s=3600,
                     provides=("a",), columns={"a": "double"}, sql="select 1")
    with pytest.raises(PlannerConfigError, match=r"^queries/big.yaml: a P0 query .* may not be expensive"):
        settings_from(None, {"big": spec})


def test_accepts_dataclass_omegaconf_and_mapping(roadmap_catalog_static):
    from_dataclass = settings_from(PlannerConf(mode="high_churn"), roadmap_catalog_static)
    from_node = settings_from(OmegaConf.merge(OmegaConf.structured(PlannerConf), {"mode": "high_churn"}),
                              roadmap_catalog_static)
    from_mapping = settings_from({"mode": "high_churn"}, roadmap_catalog_static)
    assert from_dataclass == from_node == from_mapping
    assert from_mapping.limits["high_churn"].max_expensive == 0
    assert from_mapping.limits["normal"].max_expensive == 1
    assert from_mapping.limits["normal"].max_priority == "P1"


def test_ttl_is_at_least_the_priority_refresh(roadmap_catalog_static):
    s = settings_from({"ttl_overrides_s": {"liquidity_depth": 3600}}, roadmap_catalog_static)
    assert s.ttl_s(roadmap_catalog_static["liquidity_depth"]) == 3600
    assert s.ttl_s(roadmap_catalog_static["regime_frequencies"]) == 86400
    assert settings_from(None, roadmap_catalog_static).ttl_s(roadmap_catalog_static["liquidity_depth"]) == 21600
