"""The on-disk result cache and plan execution: only planned queries are fetched, the rest served with their age."""

from __future__ import annotations

import json

import pytest

from hbbatch.planner.cache import CacheError, Fetched, ResultCache, execute, runnable, signal_values
from hbbatch.planner.schedule import plan
from hbbatch.planner.state import HISTORY_LENGTH, CacheState, record

NOW = 1_700_006_400 + 10 * 3600


def test_signal_values__median_of_the_signal_columns():
    rows = [{"gas_price_gwei": "3.0", "eth_price_usd": 3000}, {"gas_price_gwei": 1.0, "eth_price_usd": None},
            {"gas_price_gwei": 2.0, "eth_price_usd": "x"}]
    assert signal_values(rows, ["gas_price", "eth_price", "volume"]) == {"gas_price": 2.0, "eth_price": 3000.0}
    assert signal_values([], ["gas_price"]) == {}


def test_put_get_state__round_trip_with_history_and_ledger(tmp_path):
    cache = ResultCache(tmp_path)
    for i, share in enumerate([0.01, 0.02, 0.03]):
        cache.put("mev_toxicity", [{"mev_share": share}], NOW - (3 - i) * 3600, 20.0, ["mev_share", "volume"],
                  execution_id=f"01H{i}")
    stored = cache.get("mev_toxicity")
    assert stored.values == {"mev_share": 0.03} and stored.execution_id == "01H2"
    assert stored.age_s(NOW) == 3600
    state = cache.state()
    assert [v for _, v in state.results["mev_toxicity"].history["mev_share"]] == [0.01, 0.02, 0.03]
    assert state.spent_in_day(NOW) == 60.0
    # the same state as recording the runs in memory
    expected = CacheState()
    for i, share in enumerate([0.01, 0.02, 0.03]):
        expected = record(expected, "mev_toxicity", NOW - (3 - i) * 3600, 20.0, {"mev_share": share})
    assert state == expected
    assert not list(tmp_path.glob(".*.tmp"))            # no temporary file left behind



def test_put__the_charge_is_recorded_even_when_storing_the_result_fails(tmp_path, monkeypatch):
    import hbbatch.planner.cache as cache_module

    real = cache_module.write_json

    def failing(path, data):
        if str(path).endswith(".result.json"):
            raise OSError("disk full")
        return real(path, data)

    monkeypatch.setattr(cache_module, "write_json", failing)
    cache = ResultCache(tmp_path)
    with pytest.raises(OSError):
        cache.put("gas_regime", [{"gas_price_gwei": 2.0}], NOW, 10.0, ["gas_price"])
    assert cache.state().spent_in_day(NOW) == 10.0 and cache.get("gas_regime") is None

def test_history_is_bounded():
    state = CacheState()
    for t in range(HISTORY_LENGTH + 5):
        state = record(state, "q", float(t), 1.0, {"x": float(t)})
    assert len(state.results["q"].history["x"]) == HISTORY_LENGTH
    assert state.results["q"].history["x"][-1] == (float(HISTORY_LENGTH + 4), float(HISTORY_LENGTH + 4))


def test_unreadable_file__one_line_naming_it(tmp_path):
    (tmp_path / "gas_regime.result.json").write_text("{not json")
    with pytest.raises(CacheError, match=r"gas_regime.result.json: unreadable cache file .*delete it"):
        ResultCache(tmp_path).state()


def test_execute__fetches_only_runnable_and_serves_the_rest_with_age(tmp_path, roadmap_catalog):
    cache = ResultCache(tmp_path)
    cache.put("gas_regime", [{"gas_price_gwei": 2.0, "eth_price_usd": 3000.0}], NOW - 600, 10.0, ["gas_price"])
    cache.put("liquidity_depth", [{"liquidity": 1.0}], NOW - 30 * 3600, 20.0)
    the_plan = plan(roadmap_catalog, cache.state(), {}, None, NOW)
    assert runnable(the_plan) == ["pool_hourly_fees", "realized_vol_jumps", "dynamic_fee_analysis", "regime_frequencies"]
    fetched = []

    def fetch(spec):
        fetched.append(spec.name)
        return Fetched(rows=[{"value": 1}], credits=spec.cost_credits + 1, execution_id="e-" + spec.name)

    served = execute(the_plan, roadmap_catalog, cache, fetch)
    assert fetched == runnable(the_plan)
    assert {n: (s.ran, s.age_s) for n, s in served.items()} == {
        "gas_regime": (False, 600.0), "pool_hourly_fees": (True, 0.0), "realized_vol_jumps": (True, 0.0),
        "dynamic_fee_analysis": (True, 0.0), "regime_frequencies": (True, 0.0), "liquidity_depth": (False, 30 * 3600.0)}
    # credits actually charged reach the ledger (liquidity_depth's 20 were spent yesterday); the next
    # plan finds everything due fresh
    assert cache.state().spent_in_day(NOW) == 10 + (6 + 6 + 11 + 11)
    again = plan(roadmap_catalog, cache.state(), {}, None, NOW + 60)
    assert runnable(again) == []
    ledger = json.loads((tmp_path / "ledger.json").read_text())
    assert [r["query"] for r in ledger][-4:] == runnable(the_plan)


def test_execute__values_meta_and_an_earlier_result_time_from_the_fetch(tmp_path, roadmap_catalog):
    cache = ResultCache(tmp_path)
    the_plan = plan(roadmap_catalog, cache.state(), {}, None, NOW)
    meta = {"column_names": ["value"], "parameters": {"pool": "0x88e6"}}

    def fetch(spec):
        earlier = NOW - 300 if spec.name == "gas_regime" else None       # e.g. a saved query's latest result
        return Fetched(rows=[{"value": 1}], credits=1.0 if earlier else 3.0, execution_id="e-" + spec.name,
                       values={"gas_price": 4.5} if spec.name == "gas_regime" else None, meta=meta, as_of_s=earlier)

    served = execute(the_plan, roadmap_catalog, cache, fetch)
    assert (served["gas_regime"].age_s, served["gas_regime"].ran, served["gas_regime"].credits) == (300.0, True, 1.0)
    # credits spent now count now, whenever the result was computed
    assert [(r.query, r.t_s) for r in cache.state().ledger if r.credits == 1.0] == [("gas_regime", NOW)]
    assert served["pool_hourly_fees"].credits == 3.0 and served["pool_hourly_fees"].meta == meta
    stored = cache.get("gas_regime")
    assert (stored.fetched_at_s, stored.values, stored.meta, stored.execution_id) == (NOW - 300, {"gas_price": 4.5},
                                                                                     meta, "e-gas_regime")
    assert cache.get("pool_hourly_fees").values == {}                 # no values given, no signal column in the rows
    # served from the cache by the next plan: same execution id and meta, no credits spent now
    again = execute(plan(roadmap_catalog, cache.state(), {}, None, NOW + 60), roadmap_catalog, cache, fetch)
    assert (again["gas_regime"].ran, again["gas_regime"].age_s, again["gas_regime"].credits,
            again["gas_regime"].execution_id, again["gas_regime"].meta) == (False, 360.0, 0.0, "e-gas_regime", meta)


def test_charge__credits_without_a_stored_result_reach_the_ledger(tmp_path):
    cache = ResultCache(tmp_path)
    cache.put("gas_regime", [], NOW - 600, 10.0)
    cache.charge("mev_toxicity", NOW, 2.0)          # a failed execution is still paid for
    cache.charge("mev_toxicity", NOW, 0.0)          # nothing charged: no row
    assert cache.state().spent_in_day(NOW) == 12.0
    assert cache.get("mev_toxicity") is None
    assert [(r["query"], r["credits"]) for r in json.loads((tmp_path / "ledger.json").read_text())] == [
        ("gas_regime", 10.0), ("mev_toxicity", 2.0)]
