"""The JSON-RPC source: a Uniswap v3 pool read live with web3.py, one observation per step. Read only.

Every `poll_s` the confirmed head (head - `confirmations`: reorg-safe) is read; blocks past the last
one used are walked in order, and a step closes when a confirmed block's timestamp reaches the step's
end. The observation is the pool's `slot0` and `liquidity` at the step's last block (eth_call at that
block), the volume is the sum of what Swap logs (eth_getLogs) put into the pool during the step, and
the gas price is that block's base fee plus `gas_tip_gwei`. A step with no block is a gap: reported on
the next observation (`gap_steps`) and never filled. Rate limits (HTTP 429, JSON-RPC -32005), 5xx
replies, timeouts and refused connections are retried with exponential backoff; while the endpoint
stays down the run waits and its data lag grows (the stale-data alert). No key is needed, no
transaction is built or signed, and the URL's path and query (where providers put keys) are never logged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import requests
from web3 import HTTPProvider, Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3Exception, Web3RPCError

from hbbatch.monitoring.redact import redact_url, scrub
from hbbatch.shadow.observation import Observation, usd_per_eth_at_sqrt_price

log = logging.getLogger(__name__)
BACKOFF_CAP_S = 30.0
RATE_LIMIT_CODES = (-32005, -32016, 429)       # "limit exceeded" as providers report it in JSON-RPC errors
SWAP_EVENT = "Swap(address,address,int256,int256,uint160,uint128,int24)"
POOL_ABI = [
    {"name": "slot0", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "sqrtPriceX96", "type": "uint160"}, {"name": "tick", "type": "int24"},
                 {"name": "observationIndex", "type": "uint16"}, {"name": "observationCardinality", "type": "uint16"},
                 {"name": "observationCardinalityNext", "type": "uint16"}, {"name": "feeProtocol", "type": "uint8"},
                 {"name": "unlocked", "type": "bool"}]},
    {"name": "liquidity", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint128"}]},
    {"name": "fee", "type": "function", "stateMutability": "view", "inputs": [], "outputs": [{"name": "", "type": "uint24"}]},
    {"name": "tickSpacing", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "int24"}]},
    {"name": "Swap", "type": "event", "anonymous": False,
     "inputs": [{"name": "sender", "type": "address", "indexed": True},
                {"name": "recipient", "type": "address", "indexed": True},
                {"name": "amount0", "type": "int256", "indexed": False},
                {"name": "amount1", "type": "int256", "indexed": False},
                {"name": "sqrtPriceX96", "type": "uint160", "indexed": False},
                {"name": "liquidity", "type": "uint128", "indexed": False},
                {"name": "tick", "type": "int24", "indexed": False}]},
]


class RpcError(ValueError):
    """The endpoint or the pool cannot serve a shadow run (one line, secrets removed)."""


class RpcUnavailable(RpcError):
    """Retries exhausted for one request."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return True
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        return status == 429 or status >= 500
    if isinstance(exc, Web3RPCError):
        code = (exc.rpc_response or {}).get("error", {}).get("code") if isinstance(exc.rpc_response, dict) else None
        return code in RATE_LIMIT_CODES or "rate limit" in str(exc).lower()
    return False


def _reason(exc: BaseException, url: str) -> str:
    """A transient failure in a few words (no URL: requests puts the full one in its messages)."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    return scrub(" ".join(str(exc).split()), url)[:120]


def check_url(shadow: dict[str, Any]) -> str:
    """shadow.rpc_url, refused in one line (the key redacted) unless it is an http(s) endpoint; nothing is sent."""
    url = shadow.get("rpc_url")
    if not url:
        raise RpcError("shadow.rpc_url: required with shadow.source=rpc; give a JSON-RPC endpoint "
                       "(http://... ; no key is needed for public endpoints)")
    if not str(url).startswith(("http://", "https://")):
        raise RpcError(f"shadow.rpc_url={redact_url(url) or '<unparseable>'}: use an http:// or https:// endpoint")
    return str(url)


class RpcSource:
    kind = "rpc"

    def __init__(self, w3: Web3, url: str, shadow: dict[str, Any], step_minutes: float):
        self.w3, self.url, self.shadow = w3, url, shadow
        self.step_s = int(round(step_minutes * 60))
        self.confirmations = int(shadow["confirmations"])
        self.poll_s = float(shadow["poll_s"])
        self.max_retries, self.backoff_s = int(shadow["max_retries"]), float(shadow["backoff_s"])
        self.tip_wei = int(round(float(shadow["gas_tip_gwei"]) * 1e9))
        self.chunk = max(int(shadow["logs_chunk_blocks"]), 1)
        self.on_retry: Callable[[], None] = lambda: None
        self.pool = None
        self.start_block: int | None = None
        self._timestamps: dict[int, int] = {}
        self._base_fees: dict[int, int] = {}

    # ------------------------------------------------------------------ requests
    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        """fn() with retries on rate limits, timeouts and 5xx; RpcUnavailable when they run out."""
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised when not transient
                if not _retryable(exc):
                    raise
                reason = _reason(exc, self.url)
                if attempt == self.max_retries:
                    raise RpcUnavailable(f"{what}: {reason} after {self.max_retries} retries "
                                         f"(endpoint {redact_url(self.url)})") from None
                self.on_retry()
                wait = min(self.backoff_s * 2**attempt, BACKOFF_CAP_S)
                log.warning("rpc: %s: %s; retry %d/%d in %.2f s", what, reason, attempt + 1, self.max_retries, wait)
                time.sleep(wait)

    # ------------------------------------------------------------------ opening
    @classmethod
    def connect(cls, shadow: dict[str, Any], step_minutes: float, tick_spacing: int | None = None) -> "RpcSource":
        url = check_url(shadow)
        # retries are ours (with backoff); the chain id web3 asks for before every eth_call is asked once
        provider = HTTPProvider(url, request_kwargs={"timeout": float(shadow["timeout_s"])},
                                exception_retry_configuration=None, cache_allowed_requests=True,
                                cacheable_requests={"eth_chainId"})
        source = cls(Web3(provider), str(url), shadow, step_minutes)
        source._check(tick_spacing)
        return source

    def _check(self, tick_spacing: int | None) -> None:
        endpoint = redact_url(self.url)
        try:
            chain_id = self.call("eth_chainId", lambda: self.w3.eth.chain_id)
        except RpcUnavailable as exc:
            raise RpcError(f"shadow.rpc_url={endpoint}: unreachable ({exc}); check the URL and that the node is up") from None
        except (Web3Exception, requests.RequestException, ValueError) as exc:
            raise RpcError(f"shadow.rpc_url={endpoint}: not a JSON-RPC endpoint "
                           f"({scrub(type(exc).__name__ + ': ' + str(exc), self.url)[:160]})") from None
        if int(chain_id) != int(self.shadow["chain_id"]):
            raise RpcError(f"shadow.rpc_url={endpoint} reports chain id {chain_id}, shadow.chain_id is "
                           f"{self.shadow['chain_id']}: point at the right network or set shadow.chain_id")
        try:
            address = Web3.to_checksum_address(str(self.shadow["pool"]))
        except ValueError:
            raise RpcError(f"shadow.pool={self.shadow['pool']!r}: not an address (0x and 40 hex digits)") from None
        code = self.call("eth_getCode", lambda: self.w3.eth.get_code(address))
        if not code:
            raise RpcError(f"shadow.pool={address}: no contract at this address on chain {chain_id}; "
                           "give a Uniswap v3 pool")
        self.pool = self.w3.eth.contract(address=address, abi=POOL_ABI)
        try:
            self.call("slot0", lambda: self.pool.functions.slot0().call())
            spacing = int(self.call("tickSpacing", lambda: self.pool.functions.tickSpacing().call()))
            self.fee_pips = int(self.call("fee", lambda: self.pool.functions.fee().call()))
        except (ContractLogicError, BadFunctionCallOutput, Web3RPCError) as exc:
            raise RpcError(f"shadow.pool={address}: not a Uniswap v3 pool (slot0/tickSpacing/fee failed: "
                           f"{scrub(str(exc), self.url)[:120]}); give a v3 pool address") from None
        if tick_spacing is not None and spacing != int(tick_spacing):
            raise RpcError(f"shadow.pool={address}: tick spacing {spacing}, market.tick_spacing is {tick_spacing}; "
                           "set market.tick_spacing to the pool's")
        head = int(self.call("eth_blockNumber", lambda: self.w3.eth.block_number))
        confirmed = head - self.confirmations
        start = self.shadow.get("start_block")
        self.start_block = confirmed if start is None else int(start)
        if self.start_block > confirmed:
            raise RpcError(f"shadow.start_block={self.start_block} is past the confirmed head {confirmed}; "
                           "give an earlier block or leave it unset")
        log.info("rpc: %s chain %s, pool %s (fee %d pips, spacing %d), from block %d", endpoint, chain_id, address,
                 self.fee_pips, spacing, self.start_block)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "endpoint": redact_url(self.url), "pool": self.shadow["pool"],
                "chain_id": self.shadow["chain_id"], "start_block": self.start_block}

    # ------------------------------------------------------------------ blocks and pool state
    def _fetch_block(self, number: int) -> bool:
        block = self.call("eth_getBlockByNumber", lambda: self.w3.eth.get_block(number))
        if block is None:
            return False
        self._timestamps[number] = int(block["timestamp"])
        if len(self._base_fees) > 64:
            self._base_fees.clear()
        self._base_fees[number] = int(block.get("baseFeePerGas") or 0)
        return True

    def _timestamp(self, number: int) -> int | None:
        if number not in self._timestamps and not self._fetch_block(number):
            return None
        return self._timestamps[number]

    def _base_fee_at(self, number: int) -> int:
        if number not in self._base_fees and not self._fetch_block(number):
            raise RpcUnavailable(f"block {number}: not served by the endpoint")
        return self._base_fees[number]

    def _pool_state(self, number: int) -> tuple[int, int, int]:
        slot0 = self.call("slot0", lambda: self.pool.functions.slot0().call(block_identifier=number))
        liquidity = self.call("liquidity", lambda: self.pool.functions.liquidity().call(block_identifier=number))
        return int(slot0[0]), int(slot0[1]), int(liquidity)

    def _amounts_in(self, first: int, last: int) -> tuple[int, int]:
        """What Swap logs of blocks first..last put into the pool (positive amounts), per token."""
        in0 = in1 = 0
        topic = Web3.keccak(text=SWAP_EVENT)
        event = self.pool.events.Swap()
        for start in range(first, last + 1, self.chunk):
            end = min(start + self.chunk - 1, last)
            logs = self.call("eth_getLogs", lambda: self.w3.eth.get_logs(
                {"address": self.pool.address, "topics": [topic], "fromBlock": start, "toBlock": end}))
            for entry in logs:
                args = event.process_log(entry)["args"]
                in0 += max(int(args["amount0"]), 0)
                in1 += max(int(args["amount1"]), 0)
        return in0, in1

    def _observation(self, close_time: int, first: int, last: int, previous_price: float, gap_steps: int) -> Observation:
        sqrt_price, tick, liquidity = self._pool_state(last)
        in0, in1 = self._amounts_in(first, last) if last >= first else (0, 0)
        price = usd_per_eth_at_sqrt_price(sqrt_price)
        return Observation(time=datetime.fromtimestamp(close_time, timezone.utc), sqrt_price_x96=sqrt_price, tick=tick,
                           price_usd=price, log_return=math.log(price) - math.log(previous_price),
                           amount0_in=in0, amount1_in=in1, volume_usd=in0 / 1e6 + in1 / 1e18 * price,
                           pool_liquidity_raw=liquidity, block=last, gas_price_wei=self._base_fee_at(last) + self.tip_wei,
                           gap_steps=gap_steps)

    # ------------------------------------------------------------------ the source protocol
    def open_observation(self) -> Observation:
        sqrt_price, tick, liquidity = self._pool_state(self.start_block)
        ts = self._timestamp(self.start_block)
        return Observation(time=datetime.fromtimestamp(ts, timezone.utc), sqrt_price_x96=sqrt_price, tick=tick,
                           price_usd=usd_per_eth_at_sqrt_price(sqrt_price), log_return=0.0, amount0_in=0,
                           amount1_in=0, volume_usd=0.0, pool_liquidity_raw=liquidity, block=self.start_block,
                           gas_price_wei=self._base_fee_at(self.start_block) + self.tip_wei)

    @property
    def price_start_usd(self) -> float:
        if not hasattr(self, "_price_start"):
            self._price_start = self.open_observation().price_usd
        return self._price_start

    def start_cursor(self) -> dict[str, Any]:
        """The last block used, the step's end (unix seconds, on the step grid) and the last close price."""
        ts = self._timestamp(self.start_block)
        opening = self.open_observation()
        return {"block": self.start_block, "step_end": (ts // self.step_s + 1) * self.step_s,
                "price_usd": opening.price_usd}

    def state(self) -> dict[str, Any]:
        return {"start_block": self.start_block}

    def resume(self, state: dict[str, Any] | None) -> None:
        if state and state.get("start_block") is not None:
            self.start_block = int(state["start_block"])

    def close(self) -> None:
        pass

    def observations(self, cursor: dict[str, Any], idle: Callable[[], None] | None = None
                     ) -> Iterator[tuple[Observation, dict[str, Any]]]:
        """(observation, cursor after it) for each step closed by a confirmed block, polling forever."""
        idle = idle or (lambda: None)
        block, step_end, price = int(cursor["block"]), int(cursor["step_end"]), float(cursor["price_usd"])
        gap = int(cursor.get("gap", 0))
        while True:
            progressed = False
            try:
                confirmed = int(self.call("eth_blockNumber", lambda: self.w3.eth.block_number)) - self.confirmations
                first_in_step = block + 1
                while block < confirmed:
                    ts = self._timestamp(block + 1)
                    if ts is None:        # the node does not serve it (yet): try again at the next poll
                        break
                    if ts < step_end:
                        block += 1
                        continue
                    # block + 1 belongs to a later step: the step ending at step_end closes at `block`
                    obs = self._observation(step_end - self.step_s, first_in_step, block, price, gap)
                    skipped = (ts - step_end) // self.step_s     # whole steps without any block
                    if skipped:
                        log.warning("rpc: no block for %d step(s) before block %d: reported, not filled",
                                    skipped, block + 1)
                    price, gap = obs.price_usd, int(skipped)
                    step_end += (1 + skipped) * self.step_s
                    first_in_step = block + 1
                    self._timestamps = {k: v for k, v in self._timestamps.items() if k > block}
                    progressed = True
                    yield obs, {"block": block, "step_end": step_end, "price_usd": price, "gap": gap}
            except RpcUnavailable as exc:
                log.warning("rpc: %s; waiting for the next poll", exc)
            if progressed:
                continue
            deadline = time.monotonic() + self.poll_s
            while time.monotonic() < deadline:
                idle()
                time.sleep(min(0.2, self.poll_s))
