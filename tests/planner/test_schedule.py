"""One scenario per reason, on the roadmap's seven queries (and small catalogs where a reason needs one)."""

from __future__ import annotations

import pytest

from hbbatch.config.sim import MarketConf
from hbbatch.planner import plans as p
from hbbatch.planner.catalog import load_catalog
from hbbatch.planner.schedule import plan
from hbbatch.planner.state import CacheState, record
from tests.planner.conftest import ROADMAP, write_catalog

NOW = 1_700_000_000 - 1_700_000_000 % 86400 + 10 * 3600     # 10:00 UTC


def ran(state: CacheState, query: str, age_s: float, credits: float = 0.0, **values: float) -> CacheState:
    return record(state, query, NOW - age_s, credits, values)


def history(state: CacheState, query: str, signal: str, series: list[float], last_age_s: float) -> CacheState:
    """Store `series` as past results of `query`, one per hour, the last `last_age_s` ago."""
    for i, value in enumerate(series):
        state = record(state, query, NOW - last_age_s - (len(series) - 1 - i) * 3600, 0.0, {signal: value})
    return state


def reasons(the_plan: p.Plan) -> dict[str, tuple[str, str]]:
    return {c.query: (c.action, c.reason) for c in the_plan.choices}


def test_empty_cache__p0_always_p1_daily_p2_needs_a_risk_signal(roadmap_catalog):
    got = plan(roadmap_catalog, CacheState(), {}, None, NOW)
    assert reasons(got) == {
        "gas_regime": ("run", "P0 always"), "pool_hourly_fees": ("run", "P0 always"),
        "realized_vol_jumps": ("run", "P0 always"), "dynamic_fee_analysis": ("run", "P1 daily"),
        "regime_frequencies": ("run", "P1 daily"), "liquidity_depth": ("skip", "no risk signal"),
        "mev_toxicity": ("skip", "no risk signal")}
    assert got.expected_credits == 10 + 5 + 5 + 10 + 10
    assert got.signal_age_s["mev_share"] is None and got.signal_age_s["liquidity_depth"] is None
    assert got.signal_age_s["drift"] == 0.0


def test_fresh__a_result_inside_its_ttl_is_not_rerun(roadmap_catalog):
    state = ran(CacheState(), "gas_regime", age_s=3599)
    state = ran(state, "dynamic_fee_analysis", age_s=23 * 3600)     # P1: a day
    got = plan(roadmap_catalog, state, {}, None, NOW)
    assert reasons(got)["gas_regime"] == ("skip", "fresh")
    assert reasons(got)["dynamic_fee_analysis"] == ("skip", "fresh")
    assert got.signal_age_s["gas_price"] == 3599
    assert got.signal_age_s["eth_price"] == 0.0          # pool_hourly_fees runs
    assert got.signal_age_s["volume_vol_share"] == 23 * 3600


def test_fresh__ends_at_the_ttl(roadmap_catalog):
    state = ran(CacheState(), "gas_regime", age_s=3600)
    assert reasons(plan(roadmap_catalog, state, {}, None, NOW))["gas_regime"] == ("run", "P0 always")


def test_p1_refresh_period_is_configurable(roadmap_catalog):
    state = ran(CacheState(), "regime_frequencies", age_s=7200)
    conf = {"refresh_s": {"P1": 3600}, "ttl_overrides_s": {"regime_frequencies": 3600}}
    assert reasons(plan(roadmap_catalog, state, {}, conf, NOW))["regime_frequencies"] == ("run", "P1 due")


FEES = {"pool_hourly_fees": dict(priority="P0", cost_credits=3, expensive=False, ttl_s=3600,
                                 provides=["fee_rate", "volume"]),
        "fee_snapshot": dict(priority="P1", cost_credits=5, expensive=False, ttl_s=3600, provides=["fee_rate"])}


def test_dominated_by_a_planned_query(tmp_path):
    catalog = load_catalog(write_catalog(tmp_path, FEES))
    got = reasons(plan(catalog, CacheState(), {}, None, NOW))
    assert got == {"pool_hourly_fees": ("run", "P0 always"), "fee_snapshot": ("skip", "dominated by pool_hourly_fees")}


def test_dominated_by_a_fresh_query_whose_result_is_young_enough(tmp_path):
    catalog = load_catalog(write_catalog(tmp_path, FEES))
    state = ran(CacheState(), "pool_hourly_fees", age_s=1800)
    conf = {"refresh_s": {"P1": 0}}
    assert reasons(plan(catalog, state, {}, conf, NOW))["fee_snapshot"] == ("skip", "dominated by pool_hourly_fees")
    # a covering result older than fee_snapshot's own TTL is worse freshness: no dominance
    catalog = load_catalog(write_catalog(tmp_path, {**FEES, "fee_snapshot": {**FEES["fee_snapshot"], "ttl_s": 600}}))
    assert reasons(plan(catalog, state, {}, conf, NOW))["fee_snapshot"] == ("run", "P1 due")


def test_dominated__a_cheaper_later_superset_runs_in_its_place(tmp_path):
    queries = {"narrow": dict(priority="P0", cost_credits=5, expensive=False, ttl_s=3600, provides=["a"]),
               "broad": dict(priority="P1", cost_credits=4, expensive=False, ttl_s=3600, provides=["a", "b"])}
    catalog = load_catalog(write_catalog(tmp_path, queries))
    got = plan(catalog, CacheState(), {}, None, NOW)
    assert reasons(got) == {"narrow": ("skip", "dominated by broad"), "broad": ("run", "P1 daily")}
    assert got.signal_age_s == {"a": 0.0, "b": 0.0}
    assert got.expected_credits == 4


def test_over_budget__p1_waits_while_p0_keeps_its_reserve(roadmap_catalog):
    # P0 costs 20 an hour; at 10:00 UTC, 13 more P0 runs (11:00 .. 23:00, 260 credits) follow this one (20).
    state = record(CacheState(), "earlier_spend", NOW - 3600, 250.0, {})
    got = plan(roadmap_catalog, state, {}, {"budget_credits_per_day": 539}, NOW)    # 250 + 20 + 260: 9 left
    assert got.reserved_p0_credits == 260 and got.spent_today_credits == 250
    assert reasons(got)["dynamic_fee_analysis"] == reasons(got)["regime_frequencies"] == ("skip", "over budget")
    assert [reasons(got)[q] for q in ("gas_regime", "pool_hourly_fees", "realized_vol_jumps")] == [("run", "P0 always")] * 3
    # 10 left: one P1 fits; regime_frequencies first, as it refreshes two new signals per 10 credits
    # (regime_mix, drift) against dynamic_fee_analysis's one (volume_vol_share; the rest come from P0)
    got = reasons(plan(roadmap_catalog, state, {}, {"budget_credits_per_day": 540}, NOW))
    assert got["regime_frequencies"] == ("run", "P1 daily")
    assert got["dynamic_fee_analysis"] == ("skip", "over budget")


def test_budget_resets_at_the_start_of_the_utc_day(roadmap_catalog):
    state = record(CacheState(), "earlier_spend", NOW - 11 * 3600, 10_000.0, {})     # yesterday 23:00
    got = plan(roadmap_catalog, state, {}, {"budget_credits_per_day": 500}, NOW)
    assert got.spent_today_credits == 0
    assert reasons(got)["dynamic_fee_analysis"] == ("run", "P1 daily")


def test_priority_cap(roadmap_catalog):
    got = reasons(plan(roadmap_catalog, CacheState(), {}, {"normal": {"max_priority": "P0"}, "mode": "normal"}, NOW))
    assert got["dynamic_fee_analysis"] == ("skip", "priority cap")
    # a risk signal lifts the cap to risk.max_priority; with that at P1, P2 stays capped
    got = reasons(plan(roadmap_catalog, CacheState(), {"drawdown": 0.3}, {"risk": {"max_priority": "P1"}}, NOW))
    assert got["mev_toxicity"] == ("skip", "priority cap")


def test_expensive_cap__normal_allows_one_high_churn_none(roadmap_catalog):
    risky = {"vol_ratio": 3.0}
    normal = reasons(plan(roadmap_catalog, CacheState(), risky, None, NOW))
    assert normal["liquidity_depth"] == ("run", "risk signal: vol_spike")
    assert normal["mev_toxicity"] == ("skip", "expensive cap")
    churn = plan(roadmap_catalog, CacheState(), {**risky, "actions_per_hour": 2.0}, None, NOW)
    assert (churn.mode, churn.max_expensive) == ("high_churn", 0)
    assert reasons(churn)["liquidity_depth"] == reasons(churn)["mev_toxicity"] == ("skip", "expensive cap")


def test_no_risk_signal__below_every_threshold(roadmap_catalog):
    calm = {"vol_ratio": 1.9, "drawdown": 0.09, "toxicity": 0.09}
    got = reasons(plan(roadmap_catalog, CacheState(), calm, None, NOW))
    assert got["liquidity_depth"] == got["mev_toxicity"] == ("skip", "no risk signal")


def toxicity_state(series: list[float], realized_vol: float = 0.2) -> CacheState:
    state = ran(CacheState(), "liquidity_depth", age_s=3600)         # fresh: leaves the expensive slot free
    # a calm market (20 % a year) where the simulator's EV gate opens for a fresh band; at the default
    # market's 65 % expected LVR exceeds the fees and no toxicity could open it (test_decisions)
    state = ran(state, "realized_vol_jumps", age_s=600, realized_vol=realized_vol)
    return history(state, "mev_toxicity", "mev_share", series, last_age_s=2 * 86400)


def test_would_not_change_decisions__toxicity_far_from_the_ev_gate(roadmap_catalog):
    # At 20 % volatility the simulator's EV gate flips at mev_share ~ 0.85 (a fresh band held about a week,
    # test_decisions' hand-worked gain less GAS against FEE_GATE): a history around 1 % cannot flip it, one
    # around 85 % can.
    got = reasons(plan(roadmap_catalog, toxicity_state([0.010, 0.014, 0.011, 0.012]), {"toxicity": 0.2}, None, NOW))
    assert got["mev_toxicity"] == ("skip", "would not change decisions")
    got = reasons(plan(roadmap_catalog, toxicity_state([0.83, 0.87, 0.84, 0.86]), {"toxicity": 0.2}, None, NOW))
    assert got["mev_toxicity"] == ("run", "risk signal: toxicity")


def test_would_not_change_decisions__gas_so_high_no_toxicity_opens_the_gate(roadmap_catalog):
    # 50 gwei at $3,000: a recenter costs 787,760 x 50e-9 x 3000 = $118, FEE_GATE = 2 x that = $236, above
    # the fee gain even with no toxic flow; a toxicity near the old flip point no longer matters.
    state = ran(toxicity_state([0.83, 0.87, 0.84, 0.86]), "gas_regime", age_s=7200, gas_price=50.0, eth_price=3000.0)
    got = reasons(plan(roadmap_catalog, state, {"toxicity": 0.2}, None, NOW))
    assert got["mev_toxicity"] == ("skip", "would not change decisions")


def test_would_not_change_decisions__needs_enough_history(roadmap_catalog):
    got = reasons(plan(roadmap_catalog, toxicity_state([0.010, 0.011]), {"toxicity": 0.2}, None, NOW))
    assert got["mev_toxicity"] == ("run", "risk signal: toxicity")


def test_would_not_change_decisions__when_everything_it_provides_is_covered(tmp_path):
    queries = {"fees": dict(priority="P0", cost_credits=3, expensive=False, ttl_s=3600, provides=["fee_rate"]),
               "volume": dict(priority="P0", cost_credits=3, expensive=False, ttl_s=3600, provides=["volume"]),
               "both": dict(priority="P1", cost_credits=5, expensive=False, ttl_s=3600, provides=["fee_rate", "volume"])}
    catalog = load_catalog(write_catalog(tmp_path, queries))
    assert reasons(plan(catalog, CacheState(), {}, None, NOW))["both"] == ("skip", "would not change decisions")


def test_would_not_change_decisions__never_applies_to_p0(roadmap_catalog):
    state = history(CacheState(), "gas_regime", "gas_price", [2.0, 2.1, 2.0, 2.05], last_age_s=7200)
    assert reasons(plan(roadmap_catalog, state, {}, None, NOW))["gas_regime"] == ("run", "P0 always")


def test_plan_reports_mode_and_signals(roadmap_catalog):
    high_gas = 3.0 * MarketConf().gas_usd_median                 # at least 2 x the market's gas median
    got = plan(roadmap_catalog, CacheState(), {"gas_usd": high_gas}, None, NOW)
    assert (got.mode, got.mode_reason) == ("high_churn", "auto: gas regime high")
    assert got.signals["gas_regime"] == "high"
    forced = plan(roadmap_catalog, CacheState(), {"gas_usd": high_gas}, {"mode": "normal"}, NOW)
    assert (forced.mode, forced.mode_reason) == ("normal", "forced: normal")


@pytest.mark.parametrize("name", sorted(ROADMAP))
def test_every_query_has_exactly_one_choice(roadmap_catalog, name):
    got = plan(roadmap_catalog, CacheState(), {}, None, NOW)
    assert [c.query for c in got.choices].count(name) == 1
