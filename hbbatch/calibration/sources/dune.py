"""The live source: Dune's API v1 through the `dune-client` package.

`task=calibrate calibration.source=dune` does not call every query: it executes the query planner's
plan over the planner's result cache (`hbbatch.calibration.sources.dune_plan`). `fetch` is one planned
query: a saved query (`dune_query_id`) first asks for its latest result (`GET /v1/query/{id}/results`)
and reuses it when younger than the planner's TTL for it, else executes (`POST /v1/query/{id}/execute`); an
unsaved one runs its rendered SQL (`POST /v1/sql/execute`). Then the status is polled until the
execution ends or `timeout_s` passes (the execution is then cancelled), and the results are read page
by page. The execution id and the credits spent are recorded. The API key comes from the
environment, goes only into the request header, and is scrubbed from any error text.

Parameters travel as Dune's typed query parameters, checked first (`dune_parameters.py`), never in
the SQL text sent: a query without a saved id but with parameters is created as a private query with
its `{{name}}` template (`POST /v1/query`), executed with the parameters, then archived. Every read is
bounded: `request_timeout_s` per HTTP request, its whole reply included, `max_rows` (checked against the result's row count
before its pages are read, and against the rows of every page read) and `max_pages` per execution; a
server's Retry-After is honoured up to `retry_after_max_s`; a reply that is not JSON is an error naming
the URL's route, not a traceback. A results page's `next_uri` is followed only on the API's own origin
(scheme, host and port, no user part) under its /api/ path: the key travels in a header, and a
`next_uri` elsewhere would hand it to another host. Error text from the API is cut to ERROR_TEXT_MAX
characters (dune-client quotes a whole reply it cannot parse).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import pandas as pd
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hbbatch.calibration.errors import SourceError
from hbbatch.calibration.results import QueryResult, parse_time, results_payload, utc_now
from hbbatch.calibration.sources import query_parameters
from hbbatch.calibration.sources.dune_parameters import typed_parameters
from hbbatch.planner.catalog import QuerySpec

DEFAULT_BASE_URL = "https://api.dune.com"
ERROR_TEXT_MAX = 300       # characters of an API error kept in the one-line message


class DuneSource:
    kind = "dune"

    def __init__(self, conf: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], pd.Timestamp] = utc_now):
        from dune_client.client import DuneClient

        environ = os.environ if environ is None else environ
        key_env = str(conf.get("api_key_env") or "DUNE_API_KEY")
        key = environ.get(key_env, "").strip()
        if not key:
            raise SourceError(f"calibration.source=dune: the environment variable {key_env} is not set; export your "
                              f"Dune API key in it, or use calibration.source=snapshot to run offline")
        self._key = key
        self.base_url = str(conf.get("base_url") or environ.get("DUNE_API_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.ping_frequency_s = float(conf.get("ping_frequency_s", 2.0))
        self.timeout_s = float(conf.get("timeout_s", 900.0))
        self.page_size = int(conf.get("page_size", 32000))
        self.max_pages = int(conf.get("max_pages", 200))
        self.max_rows = int(conf.get("max_rows", 1_000_000))
        self.performance = str(conf.get("performance", "medium"))
        self.sleep, self.clock = sleep, clock
        self._to_archive: list[int] = []
        # dune-client logs the whole reply it cannot parse (a results page: megabytes) before raising
        logging.getLogger("dune_client.models").setLevel(logging.CRITICAL)
        self.client = DuneClient(api_key=key, base_url=self.base_url,
                                 request_timeout=float(conf.get("request_timeout_s", 30.0)),
                                 performance=self.performance)
        retry = BillingSafeRetry(
            total=int(conf.get("retries", 5)), backoff_factor=float(conf.get("backoff_s", 0.5)),
            status_forcelist={429, 502, 503, 504}, allowed_methods={"GET"}, raise_on_status=True)
        retry.retry_after_max_s = float(conf.get("retry_after_max_s", 60.0))
        adapter = DeadlineAdapter(float(conf.get("request_timeout_s", 30.0)), max_retries=retry)
        for prefix in ("https://", "http://"):
            self.client.http.mount(prefix, adapter)

    # -- the interface ---------------------------------------------------------------------------

    def fetch(self, spec: QuerySpec, overrides: Mapping[str, Any], ttl_s: float | None = None) -> QueryResult:
        """The query's result from the API now (no result cache: the plan decides what runs). `ttl_s`: how
        young a saved query's latest result must be to be reused (the planner's TTL; default `spec.ttl_s`)."""
        parameters = query_parameters(spec, overrides)
        try:
            payload, credits, reused, origin = self._obtain(spec, parameters, spec.ttl_s if ttl_s is None else ttl_s)
        except SourceError:
            raise
        except Exception as exc:  # requests / dune-client errors: one line, key scrubbed
            raise self._api_error(spec, exc) from None
        finally:
            self._archive_created()
        return QueryResult.from_payload(spec.name, payload, source=self.kind, origin=origin, parameters=parameters,
                                        credits=credits, reused=reused)

    # -- the API ---------------------------------------------------------------------------------

    def _obtain(self, spec: QuerySpec, parameters: Mapping[str, Any],
                ttl_s: float) -> tuple[dict[str, Any], float, bool, str]:
        if spec.dune_query_id is not None:
            query = self._saved_query(spec, parameters)
            latest = self.client._get(route=f"/query/{spec.dune_query_id}/results",  # noqa: SLF001 (the client's router)
                                      params={**_query_params(query), "limit": 1})
            ended = latest.get("execution_ended_at") if isinstance(latest, dict) else None
            if ended and (self.clock() - parse_time(ended)).total_seconds() < ttl_s:
                payload = self._results(spec, str(latest["execution_id"]))
                return payload, 0.0, True, f"GET /v1/query/{spec.dune_query_id}/results"
            job_id = self.client.execute_query(query, performance=self.performance).execution_id
            origin = f"POST /v1/query/{spec.dune_query_id}/execute"
        elif parameters:
            query = self._private_query(spec, parameters)
            job_id = self.client.execute_query(query, performance=self.performance).execution_id
            origin = f"POST /v1/query/{query.query_id}/execute (private, archived after)"
        else:
            job_id = self.client.execute_sql(spec.sql, performance=self.performance).execution_id
            origin = "POST /v1/sql/execute"
        # From here on the execution is billed: every error carries what it cost (the planner's ledger
        # counts it); a failure before its cost is known carries the declared cost.
        try:
            credits = self._wait(spec, job_id)          # its SourceErrors carry what Dune reported
        except SourceError:
            raise
        except Exception as exc:
            raise self._api_error(spec, exc, float(spec.cost_credits)) from None
        try:
            payload = self._results(spec, job_id)
        except SourceError as exc:
            raise SourceError(str(exc), credits=credits) from None
        except Exception as exc:
            raise self._api_error(spec, exc, credits) from None
        return payload, credits, False, f"{origin} -> execution {job_id}"

    def _saved_query(self, spec: QuerySpec, parameters: Mapping[str, Any]) -> Any:
        from dune_client.query import QueryBase

        return QueryBase(query_id=int(spec.dune_query_id), name=spec.name, params=typed_parameters(spec, parameters))

    def _private_query(self, spec: QuerySpec, parameters: Mapping[str, Any]) -> Any:
        """A private saved query of the catalog's SQL template, with typed parameters; archived once read."""
        from dune_client.query import QueryBase

        params = typed_parameters(spec, parameters)
        created = self.client._post(route="/query", params={   # noqa: SLF001 (create_query re-reads the query)
            "name": f"hbbatch {spec.name}", "query_sql": spec.sql, "is_private": True,
            "parameters": [p.to_dict() for p in params]})
        if not isinstance(created, dict) or "query_id" not in created:
            raise SourceError(f"dune: query {spec.name}: creating its private query gave no query_id ({created!r:.80}); "
                              f"check DUNE_API_BASE_URL and the key's plan")
        query_id = int(created["query_id"])
        self._to_archive.append(query_id)
        return QueryBase(query_id=query_id, name=spec.name, params=params)

    def _archive_created(self) -> None:
        """Archive the private queries this fetch created (a courtesy: a failure is not the error to report)."""
        while self._to_archive:
            query_id = self._to_archive.pop()
            try:
                self.client._post(route=f"/query/{query_id}/archive")  # noqa: SLF001
            except Exception:
                pass

    def _wait(self, spec: QuerySpec, job_id: str) -> float:
        """Poll until the execution ends; the credits it cost. Failed, cancelled or too slow: SourceError."""
        from dune_client.models import ExecutionState

        deadline = time.monotonic() + self.timeout_s
        while True:
            status = self.client.get_execution_status(job_id)
            if status.state in ExecutionState.terminal_states():
                break
            if time.monotonic() >= deadline:
                try:
                    self.client.cancel_execution(job_id)
                except Exception:  # the cancel is a courtesy; the timeout is the error to report
                    pass
                # a cancelled execution is still billed: what Dune reported, else the declared cost
                credits = float(status.execution_cost_credits or spec.cost_credits)
                raise SourceError(f"dune: query {spec.name}: execution {job_id} still {status.state.value} after "
                                  f"{self.timeout_s:g} s; cancelled ({credits:g} credits counted). Raise "
                                  f"calibration.dune.timeout_s or use calibration.dune.performance=large",
                                  credits=credits)
            self.sleep(self.ping_frequency_s)
        credits = float(status.execution_cost_credits or 0.0)
        if status.state != ExecutionState.COMPLETED:
            message = status.error.message if status.error is not None else "no error message"
            raise SourceError(f"dune: query {spec.name}: execution {job_id} ended {status.state.value} "
                              f"({message}; {credits:g} credits charged); fix queries/{spec.name}.sql or its parameters",
                              credits=credits)
        return credits

    def _results(self, spec: QuerySpec, job_id: str) -> dict[str, Any]:
        """Every page of an execution's results, as one results JSON, within max_rows and max_pages."""
        results = self.client.get_execution_results(job_id, limit=self.page_size)
        if results.result is None:
            raise SourceError(f"dune: query {spec.name}: execution {job_id} returned no result; re-run it")
        total = results.result.metadata.total_row_count
        if total is not None and total > self.max_rows:
            raise SourceError(f"dune: query {spec.name}: execution {job_id} has {total:,} rows, more than "
                              f"calibration.dune.max_rows={self.max_rows:,}; narrow the query (a shorter lookback) "
                              f"or raise calibration.dune.max_rows")
        pages, next_uri = 1, results.next_uri
        while True:
            if len(results.result.rows) > self.max_rows:   # a page may hold more rows than the count announced
                raise SourceError(f"dune: query {spec.name}: execution {job_id} returned more than "
                                  f"calibration.dune.max_rows={self.max_rows:,} rows; narrow the query or raise the limit")
            if next_uri is None:
                break
            if pages >= self.max_pages:
                raise SourceError(f"dune: query {spec.name}: execution {job_id} still has more results after "
                                  f"{pages} pages (calibration.dune.max_pages={self.max_pages}, "
                                  f"{len(results.result.rows):,} rows read); raise calibration.dune.max_pages or "
                                  f"calibration.dune.page_size if the result is really that large")
            self._check_next_uri(spec, job_id, next_uri)
            batch = self.client._get_execution_results_by_url(url=next_uri)  # noqa: SLF001 (one next_uri page)
            results += batch
            pages, next_uri = pages + 1, batch.next_uri
        metadata = results.result.metadata
        ended = results.times.execution_ended_at or results.times.submitted_at
        return results_payload(list(results.result.rows), list(metadata.column_names), list(metadata.column_types),
                               execution_id=results.execution_id, ended_at=pd.Timestamp(ended),
                               query_id=results.query_id, execution_time_millis=metadata.execution_time_millis)

    def _check_next_uri(self, spec: QuerySpec, job_id: str, next_uri: str) -> None:
        """A next page only from the API itself: same scheme, host and port as base_url, no user part, under /api/
        (a prefix test would pass `https://api.dune.com.example.net/` or `https://api.dune.com@example.net/`)."""
        base, url = urlsplit(self.base_url), urlsplit(str(next_uri))
        try:
            same = ((url.scheme, url.hostname, url.port) == (base.scheme, base.hostname, base.port)
                    and url.username is None and url.password is None and url.path.startswith("/api/"))
        except ValueError:   # a port that is not a number
            same = False
        if not same:
            raise SourceError(f"dune: query {spec.name}: execution {job_id}: the API's next_uri "
                              f"{self._scrub_text(str(next_uri))[:120]!r} is not on {self.base_url}; not followed "
                              f"(the API key would go to another host). Check DUNE_API_BASE_URL / calibration.dune.base_url")

    def _api_error(self, spec: QuerySpec, exc: BaseException, credits: float = 0.0) -> SourceError:
        """A requests / dune-client error as one line, the key scrubbed, with the credits already charged."""
        if isinstance(exc.__cause__, ValueError) and "JSON" in type(exc.__cause__).__name__:
            # dune-client raises "Unreachable since previous line raises" for a 2xx reply it cannot decode
            return SourceError(f"dune: query {spec.name}: the API answered with something that is not JSON "
                               f"({self._scrub(exc.__cause__)}); check that DUNE_API_BASE_URL / "
                               f"calibration.dune.base_url ({self.base_url}) is the Dune API", credits=credits)
        return SourceError(f"dune: query {spec.name}: {exc.__class__.__name__}: {self._scrub(exc)}; check the "
                           f"network, DUNE_API_BASE_URL and the key's plan, or use calibration.source=snapshot",
                           credits=credits)

    def _scrub(self, exc: BaseException) -> str:
        text = self._scrub_text(str(exc))
        return text if len(text) <= ERROR_TEXT_MAX else text[:ERROR_TEXT_MAX] + " ..."

    def _scrub_text(self, text: str) -> str:
        text = " ".join(text.split())
        return text.replace(self._key, "<redacted>") if self._key else text


class DeadlineAdapter(HTTPAdapter):
    """`request_timeout_s` for the whole reply, not per read: requests' timeout bounds each socket read, so a
    server that trickles its reply a byte at a time never reaches it. The body is read in pieces as they
    arrive, and a reply still coming in after `total_s` is a timeout (requests' ReadTimeout, as a slow server's)."""

    def __init__(self, total_s: float, **kwargs: Any):
        self.total_s = total_s
        super().__init__(**kwargs)

    def send(self, request: Any, stream: bool = False, **kwargs: Any) -> Any:
        from requests.exceptions import ReadTimeout

        deadline = time.monotonic() + self.total_s
        response = super().send(request, stream=True, **kwargs)
        if stream:
            return response
        body = bytearray()
        try:
            while piece := response.raw.read1(1 << 16, decode_content=True):
                body += piece
                if time.monotonic() > deadline:
                    raise ReadTimeout(f"the reply took longer than calibration.dune.request_timeout_s={self.total_s:g} "
                                      f"s ({len(body):,} bytes read)", request=request, response=response)
        finally:
            response.close()
        response._content = bytes(body)   # noqa: SLF001 (what requests sets once it has read a body)
        return response


class BillingSafeRetry(Retry):
    """Repeats a POST only on 429 (the request was refused, nothing ran): a POST answered 5xx, or whose
    answer was lost, may have started a billed execution, and a retry would start another."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST":
            return status_code == 429
        return super().is_retry(method, status_code, has_retry_after)

    retry_after_max_s: float = 60.0

    def new(self, **kw: Any) -> "BillingSafeRetry":
        retry = super().new(**kw)
        retry.retry_after_max_s = self.retry_after_max_s
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        """The server's Retry-After, at most `retry_after_max_s`: `Retry-After: 86400` would otherwise hold the
        command a day per retry (the retries then end with the usual error if the server still refuses)."""
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.retry_after_max_s)


def _query_params(query: Any) -> dict[str, Any]:
    from dune_client.query import parse_query_object_or_id

    params, _ = parse_query_object_or_id(query)
    return dict(params or {})
