"""Properties of every plan, over random catalogs, cache states, live signals and budgets."""

from __future__ import annotations

import dataclasses
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbbatch.planner import plans as p
from hbbatch.planner.catalog import PRIORITIES, QuerySpec, load_catalog
from hbbatch.planner.schedule import covers, plan
from hbbatch.planner.settings import p0_credits_per_day, settings_from
from hbbatch.planner.state import CacheState, record

SIGNALS = ["gas_price", "eth_price", "fee_rate", "volume", "active_liquidity", "mev_share", "drift", "realized_vol",
           "regime_mix", "jump_rate"]
DAY0 = 1_700_006_400            # a UTC midnight


@st.composite
def catalogs(draw):
    n = draw(st.integers(1, 7))
    out = {}
    for i in range(n):
        priority = draw(st.sampled_from(PRIORITIES))
        out[f"q{i}"] = QuerySpec(
            name=f"q{i}", priority=priority, cost_credits=float(draw(st.sampled_from([0, 1, 2, 5, 10, 20, 40]))),
            cost_class="cheap", expensive=priority != "P0" and draw(st.booleans()),
            ttl_s=draw(st.sampled_from([0, 1800, 3600, 21600, 86400])),
            provides=tuple(draw(st.lists(st.sampled_from(SIGNALS), min_size=1, max_size=3, unique=True))),
            columns={"value": "double"}, sql="select 1")
    return dict(sorted(out.items(), key=lambda kv: (kv[1].priority_rank, kv[0])))


@st.composite
def scenarios(draw):
    catalog = draw(catalogs())
    now = DAY0 + draw(st.integers(0, 86399))
    state = CacheState()
    for name, spec in catalog.items():
        if draw(st.booleans()):
            n = draw(st.integers(1, 5))
            last_age = draw(st.integers(0, 3 * 86400))
            for k in range(n):
                values = {s: draw(st.floats(0, 1, allow_nan=False)) for s in spec.provides}
                state = record(state, name, now - last_age - (n - 1 - k) * 3600, 0.0, values)
    conf = {
        "mode": draw(st.sampled_from(["auto", "normal", "high_churn"])),
        "normal": {"max_priority": draw(st.sampled_from(PRIORITIES)), "max_expensive": draw(st.integers(0, 2))},
        "high_churn": {"max_priority": draw(st.sampled_from(PRIORITIES)), "max_expensive": draw(st.integers(0, 2))},
        "risk": {"max_priority": draw(st.sampled_from(PRIORITIES))},
        "cycle_s": draw(st.sampled_from([900, 3600])),
        "budget_credits_per_day": 1e12,
    }
    unbounded = settings_from(conf, catalog)
    need = p0_credits_per_day(catalog, unbounded)
    budget = need + draw(st.sampled_from([0, 1, 5, 20, 100, 1000]))
    settings_ = dataclasses.replace(unbounded, budget_credits_per_day=budget)
    # credits spent earlier today by the plan's own rules: at most what the P0 reserve leaves
    spend = draw(st.floats(0, 1)) * (budget - need)
    state = record(state, "elsewhere", now - (now - DAY0) / 2, spend, {})
    signals = {
        "gas_regime": draw(st.none() | st.sampled_from(["low", "normal", "high"])),
        "actions_per_hour": draw(st.none() | st.floats(0, 3)),
        "vol_ratio": draw(st.none() | st.floats(0, 4)),
        "drawdown": draw(st.none() | st.floats(0, 0.5)),
        "toxicity": draw(st.none() | st.floats(0, 0.2)),
    }
    return catalog, state, signals, settings_, now


def check(catalog, state, signals, s, now):
    got = plan(catalog, state, signals, s, now)
    runs = {c.query for c in got.choices if c.runs}
    ages = {n: state.age_s(n, now) for n in catalog}
    fresh = {n for n, a in ages.items() if a is not None and a < s.ttl_s(catalog[n])}

    assert [c.query for c in got.choices] == list(catalog)
    # never over budget
    assert got.spent_today_credits + got.expected_credits <= s.budget_credits_per_day + 1e-6
    # never more expensive queries than the mode allows
    assert sum(catalog[n].expensive for n in runs) <= s.limits[got.mode].max_expensive
    # no query inside its TTL re-run
    assert not runs & fresh
    # a dominated query never runs: no planned or young-enough fresh query covers it
    for q in runs:
        assert not any(covers(catalog[r], catalog[q]) for r in runs)
        assert not any(covers(catalog[r], catalog[q]) and ages[r] < s.ttl_s(catalog[q]) for r in fresh)
    # a P2 query never runs without a risk signal
    assert all(got.risk_signals for q in runs if catalog[q].priority == "P2")
    # P0 runs unless fresh or covered by something planned or fresh
    for c in got.choices:
        if c.priority == "P0" and not c.runs:
            assert c.reason == p.FRESH or c.reason.startswith(p.DOMINATED_BY), c
    # exactly one reason each, from the vocabulary; a dominator runs or is fresh
    for c in got.choices:
        if c.runs:
            assert c.reason.startswith(p.RUN_REASONS) and c.expected_credits == c.cost_credits
        else:
            assert c.reason.startswith(p.SKIP_REASONS) and c.expected_credits == 0
            if c.reason.startswith(p.DOMINATED_BY):
                assert c.reason[len(p.DOMINATED_BY):] in runs | fresh
    # each signal's age is its youngest provider's
    for signal, age in got.signal_age_s.items():
        providers = [0.0 if n in runs else ages[n] for n in catalog if signal in catalog[n].provides]
        known = [a for a in providers if a is not None]
        assert age == (min(known) if known else None)
    # plan.json round-trips
    assert p.Plan.from_dict(json.loads(json.dumps(got.to_dict()))) == got
    return got


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_plan_properties(scenario):
    check(*scenario)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 86399), st.floats(0, 1), st.booleans(), st.booleans())
def test_roadmap_catalog_properties(roadmap_catalog_static, second, spend_share, churn, risk):
    catalog = roadmap_catalog_static
    now = DAY0 + second
    s = settings_from({"budget_credits_per_day": 600}, catalog)
    need = p0_credits_per_day(catalog, s)
    state = record(CacheState(), "elsewhere", DAY0, spend_share * (600 - need), {})
    signals = {"actions_per_hour": 2.0 if churn else 0.05, "drawdown": 0.3 if risk else 0.0}
    got = check(catalog, state, signals, s, now)
    assert math.isclose(got.choice("gas_regime").expected_credits, 10.0)


def test_repository_catalog_plans_under_the_default_config():
    catalog = load_catalog()
    s = settings_from(None, catalog)
    for second in range(0, 86400, 3 * 3600):
        check(catalog, CacheState(), {"drawdown": 0.5}, s, DAY0 + second)
