"""A local stand-in for the Dune API v1 (stdlib http.server on 127.0.0.1, an ephemeral port).

It speaks the endpoints the Dune source uses, in Dune's JSON shapes: execute (saved query and raw
SQL), creating and archiving a (private) query with typed parameters, status, results with paging
(limit / offset, next_uri / next_offset), latest results of a saved query, cancel. Each execution
follows a scenario: the rows it returns, the states it walks through, the credits it costs, a failure,
or never finishing. `throttle` answers 429 first (with `retry_after` as its Retry-After); `unavailable`
answers 503 to paths containing a part; `not_json` answers 200 with an HTML page to paths containing a
part; `slow` waits before answering paths containing a part; `trickle` sends their reply a byte at a
time, that many seconds apart. A scenario with `endless_pages` always has a next page; one with
`next_uri_base` points its next pages at another server; one with `metadata` announces other result
metadata (a row count that lies, or none).
Every request is logged (method, path, header key) so tests can count calls and check the key.
`snapshot_scenario` serves a committed snapshot's rows as if computed now.
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

import pandas as pd

from hbbatch.calibration.results import format_api_time, format_dune_timestamp, parse_time

KEY = "dune-test-key-7f3a9c21e5"


class _Server(ThreadingHTTPServer):
    """A client that stops reading (a page limit reached, a timeout) closes its connection, as with Dune:
    the reply that can no longer be written is dropped, not printed as a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@dataclass
class Scenario:
    columns: list[str]
    types: list[str]
    rows: list[dict[str, Any]]
    states: list[str] = field(default_factory=lambda: ["QUERY_STATE_EXECUTING", "QUERY_STATE_COMPLETED"])
    credits: float = 7.5
    error: str | None = None          # ends QUERY_STATE_FAILED with this message
    never_finish: bool = False
    ended_at: pd.Timestamp | None = None
    endless_pages: bool = False       # every results page points at a next one (a broken or hostile server)
    metadata: dict[str, Any] = field(default_factory=dict)   # replaces result metadata fields (None: drops one)
    next_uri_base: str | None = None  # where next_uri points instead of the stand-in (a hostile server)


def snapshot_scenario(payload: dict, now: pd.Timestamp, **extra: Any) -> Scenario:
    """The snapshot's rows, moved in time so that the newest row is as fresh as a live result's
    (`extra` sets other Scenario fields, `rows` included)."""
    rows = copy.deepcopy(payload["result"]["rows"])
    meta = payload["result"]["metadata"]
    # whole hours, so hourly rows stay on the hour; the result ends as long after its newest row as the
    # snapshot did (freshness gates see the snapshot's own age, whatever minute the test runs in)
    ended = parse_time(payload["execution_ended_at"])
    shift = (now - ended).floor("h")
    extra.setdefault("ended_at", ended + shift)
    for name, kind in zip(meta["column_names"], meta["column_types"]):
        if kind.startswith("timestamp"):
            for row in rows:
                row[name] = format_dune_timestamp(parse_time(row[name]) + shift)
    return Scenario(**{"columns": meta["column_names"], "types": meta["column_types"], "rows": rows, **extra})


@dataclass
class Execution:
    id: str
    scenario: Scenario
    query_id: int | None
    polls: int = 0
    cancelled: bool = False


class DuneStandIn:
    """Start with `with DuneStandIn(key, pick) as server:`; `pick(sql, query_id) -> Scenario`."""

    def __init__(self, api_key: str, pick: Callable[[str | None, int | None], Scenario]):
        self.api_key = api_key
        self.pick = pick
        self.executions: dict[str, Execution] = {}
        self.latest: dict[int, str] = {}          # saved query id -> execution id of its latest result
        self.requests: list[tuple[str, str, str | None]] = []
        self.throttle: dict[str, int] = {}        # path prefix -> how many 429s still to send
        self.unavailable: dict[str, int] = {}     # path part -> how many 503s still to send
        self.not_json: dict[str, int] = {}        # path part -> how many HTML pages still to send
        self.slow: dict[str, float] = {}          # path part -> seconds to wait before answering
        self.retry_after = "0"                    # the Retry-After header of a 429
        self.trickle: dict[str, float] = {}       # path part -> seconds between the reply's bytes
        self.created: dict[int, dict[str, Any]] = {}   # created query id -> name, query_sql, parameters, archived
        self.execution_parameters: dict[str, Any] = {}  # execution id -> the query_parameters it was given
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "DuneStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_latest(self, query_id: int, scenario: Scenario) -> str:
        """A stored result of a saved query, as if executed earlier (ended_at on the scenario)."""
        execution = self._new(scenario, query_id)
        execution.polls = len(scenario.states)
        self.latest[query_id] = execution.id
        return execution.id

    def calls(self, method: str, prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(prefix))

    def execute_calls(self) -> int:
        """Requests that start an execution: raw SQL or a (saved or created) query."""
        return sum(1 for m, p, _ in self.requests if m == "POST" and p.endswith("/execute"))

    # -- internals -------------------------------------------------------------------------------

    def _new(self, scenario: Scenario, query_id: int | None) -> Execution:
        with self._lock:
            execution = Execution(id=f"01HSTANDIN{next(self._ids):06d}", scenario=scenario, query_id=query_id)
            self.executions[execution.id] = execution
        return execution

    def _state(self, execution: Execution) -> str:
        if execution.cancelled:
            return "QUERY_STATE_CANCELLED"
        if execution.scenario.never_finish:
            return "QUERY_STATE_EXECUTING"
        if execution.scenario.error and execution.polls >= len(execution.scenario.states) - 1:
            return "QUERY_STATE_FAILED"
        return execution.scenario.states[min(execution.polls, len(execution.scenario.states) - 1)]

    def _times(self, execution: Execution) -> dict[str, Any]:
        ended = execution.scenario.ended_at or pd.Timestamp.now(tz="UTC")
        times = {"submitted_at": format_api_time(ended), "execution_started_at": format_api_time(ended)}
        if self._state(execution) in ("QUERY_STATE_COMPLETED", "QUERY_STATE_FAILED"):
            times["execution_ended_at"] = format_api_time(ended)
            times["expires_at"] = format_api_time(ended + pd.Timedelta(days=90))
        return times

    def _status(self, execution: Execution) -> dict[str, Any]:
        state = self._state(execution)
        body = {"execution_id": execution.id, "query_id": execution.query_id, "state": state,
                "is_execution_finished": state not in ("QUERY_STATE_PENDING", "QUERY_STATE_EXECUTING"),
                **self._times(execution)}
        if body["is_execution_finished"]:
            body["execution_cost_credits"] = execution.scenario.credits
        if state == "QUERY_STATE_FAILED":
            body["error"] = {"type": "FAILED_TYPE_EXECUTION_FAILED", "message": execution.scenario.error,
                             "metadata": {"line": 3, "column": 5}}
        return body

    def _results(self, execution: Execution, limit: int, offset: int) -> dict[str, Any]:
        rows = execution.scenario.rows
        page = rows[offset: offset + limit]
        body = {**self._status(execution)}
        body.pop("execution_cost_credits", None)
        size = len(json.dumps(page))
        body["result"] = {"rows": page, "metadata": {
            "column_names": execution.scenario.columns, "column_types": execution.scenario.types,
            "row_count": len(page), "result_set_bytes": size, "total_row_count": len(rows),
            "total_result_set_bytes": size, "datapoint_count": len(page) * len(execution.scenario.columns),
            "pending_time_millis": 5, "execution_time_millis": 120}}
        for key, value in execution.scenario.metadata.items():
            if value is None:
                body["result"]["metadata"].pop(key, None)
            else:
                body["result"]["metadata"][key] = value
        if offset + limit < len(rows) or execution.scenario.endless_pages:
            body["next_offset"] = offset + limit
            body["next_uri"] = (f"{execution.scenario.next_uri_base or self.base_url}/api/v1/execution/{execution.id}"
                                f"/results?limit={limit}&offset={offset + limit}")
        return body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
                self._send_raw(code, json.dumps(body).encode(), "application/json", headers)

            def _send_raw(self, code: int, data: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                delay_s = next((d for part, d in stand_in.trickle.items() if part in self.path), None)
                if delay_s is None:
                    return self.wfile.write(data)
                for i in range(len(data)):   # each read of the client's gets a byte well within its timeout
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(delay_s)

            def _route(self, method: str) -> None:
                url = urlparse(self.path)
                path, query = url.path, parse_qs(url.query)
                stand_in.requests.append((method, path, self.headers.get("x-dune-api-key")))
                if self.headers.get("x-dune-api-key") != stand_in.api_key:
                    return self._send(401, {"error": "invalid API Key"})
                for part, count in list(stand_in.throttle.items()):
                    if part in path and count > 0:
                        stand_in.throttle[part] = count - 1
                        return self._send(429, {"error": "rate limit exceeded"}, {"Retry-After": stand_in.retry_after})
                for part, count in list(stand_in.unavailable.items()):
                    if part in path and count > 0:
                        stand_in.unavailable[part] = count - 1
                        return self._send(503, {"error": "service unavailable"})
                for part, delay_s in list(stand_in.slow.items()):
                    if part in path:
                        time.sleep(delay_s)
                for part, count in list(stand_in.not_json.items()):
                    if part in path and count > 0:
                        stand_in.not_json[part] = count - 1
                        return self._send_raw(200, b"<html><body>Bad gateway page</body></html>", "text/html")
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if method == "POST" else {}
                parts = path.strip("/").split("/")     # api, v1, ...
                if parts[:2] != ["api", "v1"]:
                    return self._send(404, {"error": "not found"})
                route = parts[2:]
                if method == "POST" and route == ["sql", "execute"]:
                    execution = stand_in._new(stand_in.pick(body.get("sql"), None), None)
                    return self._send(200, {"execution_id": execution.id, "state": "QUERY_STATE_PENDING"})
                if method == "POST" and route == ["query"]:
                    with stand_in._lock:
                        query_id = 900_000 + len(stand_in.created)
                        stand_in.created[query_id] = {**body, "archived": False}
                    return self._send(200, {"query_id": query_id})
                if method == "POST" and len(route) == 3 and route[0] == "query" and route[2] == "archive":
                    stand_in.created[int(route[1])]["archived"] = True
                    return self._send(200, {"query_id": int(route[1])})
                if method == "POST" and len(route) == 3 and route[0] == "query" and route[2] == "execute":
                    query_id = int(route[1])
                    sql = stand_in.created.get(query_id, {}).get("query_sql")
                    execution = stand_in._new(stand_in.pick(sql, query_id), query_id)
                    stand_in.execution_parameters[execution.id] = body.get("query_parameters")
                    stand_in.latest[query_id] = execution.id
                    return self._send(200, {"execution_id": execution.id, "state": "QUERY_STATE_PENDING"})
                if route[:1] == ["execution"] and len(route) == 3:
                    execution = stand_in.executions.get(route[1])
                    if execution is None:
                        return self._send(404, {"error": "execution not found"})
                    if method == "GET" and route[2] == "status":
                        body = stand_in._status(execution)
                        execution.polls += 1
                        return self._send(200, body)
                    if method == "GET" and route[2] == "results":
                        limit = int(query.get("limit", ["32000"])[0])
                        offset = int(query.get("offset", ["0"])[0])
                        return self._send(200, stand_in._results(execution, limit, offset))
                    if method == "POST" and route[2] == "cancel":
                        execution.cancelled = True
                        return self._send(200, {"success": True})
                if method == "GET" and len(route) == 3 and route[0] == "query" and route[2] == "results":
                    execution_id = stand_in.latest.get(int(route[1]))
                    if execution_id is None:
                        return self._send(404, {"error": "no results for this query"})
                    limit = int(query.get("limit", ["32000"])[0])
                    return self._send(200, stand_in._results(stand_in.executions[execution_id], limit, 0))
                return self._send(404, {"error": f"no route {method} {path}"})

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._route("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

        return Handler
