"""The query catalog as the planner and the sources read it, and its agreement with the gates."""

import json

from hbbatch.calibration.gates import SUITES_DIR
from hbbatch.calibration.sources.snapshot import SNAPSHOT_DIR

GX_TYPES = {"timestamp": "Timestamp", "double": "float64", "bigint": "int64", "varchar": "str", "boolean": "bool"}


def test_catalog__priorities_follow_the_roadmap(catalog):
    by_priority = {p: sorted(n for n, s in catalog.items() if s.priority == p) for p in ("P0", "P1", "P2")}
    assert by_priority == {"P0": ["gas_regime", "pool_hourly_fees", "realized_vol_jumps"],
                           "P1": ["dynamic_fee_analysis", "regime_frequencies"],
                           "P2": ["liquidity_depth", "mev_toxicity"]}
    assert catalog["liquidity_depth"].expensive and catalog["liquidity_depth"].ttl_s == 21600
    assert not any(catalog[n].expensive for n in by_priority["P0"] + by_priority["P1"])


def test_catalog__every_query_renders_with_its_parameters(catalog):
    for spec in catalog.values():
        sql = spec.render_sql()
        assert "{{" not in sql
        if "pool" in spec.parameters:
            assert str(spec.parameters["pool"]) in sql      # varbinary literal, unquoted


def test_catalog__signals_overlap_so_one_query_can_cover_another(catalog):
    provides = {n: set(s.provides) for n, s in catalog.items()}
    assert provides["realized_vol_jumps"] <= provides["regime_frequencies"]
    assert provides["pool_hourly_fees"] & provides["liquidity_depth"] == {"active_liquidity"}


def test_suites__check_exactly_the_catalog_columns_and_types(catalog):
    for name, spec in catalog.items():
        suite = json.loads((SUITES_DIR / f"{name}.json").read_text())
        expectations = suite["expectations"]
        column_set = next(e["kwargs"]["column_set"] for e in expectations
                          if e["type"] == "expect_table_columns_to_match_set")
        assert column_set == list(spec.columns)
        types = {e["kwargs"]["column"]: e["kwargs"]["type_"] for e in expectations
                 if e["type"] == "expect_column_values_to_be_of_type"}
        assert types == {c: GX_TYPES[k] for c, k in spec.columns.items()}


def test_snapshots__exist_for_every_query_and_name_the_sql_they_answer(catalog):
    from hbbatch.calibration.results import sha256_of

    for name, spec in catalog.items():
        block = json.loads((SNAPSHOT_DIR / f"{name}.json").read_text())["hbbatch"]
        assert block["sql_sha256"] == sha256_of(spec.sql), f"{name}: SQL changed; rebuild the snapshots"
        assert block["derived_from"] and all(f["licence"] for f in block["derived_from"])
