"""Query results in Dune's results shape: parsing, casting, hashing."""

import copy

import pandas as pd
import pytest
from dune_client.models import ResultsResponse

from hbbatch.calibration.errors import SourceError
from hbbatch.calibration.results import QueryResult, format_dune_timestamp, parse_time


def test_snapshots__parse_as_dune_client_results(snapshot_payloads):
    for name, payload in snapshot_payloads.items():
        response = ResultsResponse.from_dict(payload)          # the client's own model of the results JSON
        assert response.get_rows() == payload["result"]["rows"]
        assert response.result.metadata.total_row_count == len(payload["result"]["rows"])


def test_to_frame__casts_to_catalog_types(snapshot_payloads, catalog):
    result = QueryResult.from_payload("pool_hourly_fees", snapshot_payloads["pool_hourly_fees"],
                                      source="snapshot", origin="test")
    frame = result.to_frame(catalog["pool_hourly_fees"])
    assert str(frame["hour"].dtype) == "datetime64[us, UTC]"
    assert frame["swap_count"].dtype == "int64" and frame["volume_usd"].dtype == "float64"
    assert frame["hour"].iloc[0] == pd.Timestamp("2024-01-05", tz="UTC")


def test_to_frame__leaves_uncastable_values_for_the_type_gate(snapshot_payloads, catalog):
    payload = copy.deepcopy(snapshot_payloads["gas_regime"])
    payload["result"]["rows"][3]["gas_price_gwei"] = "lots"
    frame = QueryResult.from_payload("gas_regime", payload, source="snapshot", origin="t").to_frame(catalog["gas_regime"])
    assert frame["gas_price_gwei"].dtype == object and frame["gas_price_gwei"].iloc[3] == "lots"


def test_from_payload__names_the_missing_field(snapshot_payloads):
    payload = copy.deepcopy(snapshot_payloads["gas_regime"])
    del payload["result"]["metadata"]["column_types"]
    with pytest.raises(SourceError, match=r"gas_regime field 'result.metadata.column_types'"):
        QueryResult.from_payload("gas_regime", payload, source="snapshot", origin="x.json")
    payload = copy.deepcopy(snapshot_payloads["gas_regime"])
    payload["state"] = "QUERY_STATE_FAILED"
    with pytest.raises(SourceError, match="field 'state'"):
        QueryResult.from_payload("gas_regime", payload, source="snapshot", origin="x.json")


def test_data_hash__depends_on_rows_not_on_execution(snapshot_payloads):
    payload = snapshot_payloads["gas_regime"]
    a = QueryResult.from_payload("gas_regime", payload, source="snapshot", origin="a")
    other = {**copy.deepcopy(payload), "execution_id": "another", "execution_ended_at": "2030-01-01T00:00:00.000Z"}
    b = QueryResult.from_payload("gas_regime", other, source="dune", origin="b")
    assert a.data_hash == b.data_hash
    other["result"]["rows"][0]["gas_price_gwei"] += 1e-9
    assert QueryResult.from_payload("gas_regime", other, source="dune", origin="b").data_hash != a.data_hash


def test_dune_timestamps__round_trip():
    ts = pd.Timestamp("2024-12-16 05:01:53.250", tz="UTC")
    assert format_dune_timestamp(ts) == "2024-12-16 05:01:53.250 UTC"
    assert parse_time(format_dune_timestamp(ts)) == ts
    assert parse_time("2024-12-16T05:01:53.250Z") == ts
