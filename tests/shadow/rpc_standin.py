"""A JSON-RPC stand-in on 127.0.0.1 replaying the real 2024-01-05 events of the mainnet USDC/WETH 0.05 % pool.

Run by the tests as a separate process (stopped by its pid):
    python tests/shadow/rpc_standin.py --port-file PATH [--bps 50] [--head0 18937390] ...

The chain is the real blocks that carry pool events (tests/shadow/data/pool_events.csv.gz: block numbers,
timestamps, Swap amounts, sqrtPriceX96, tick and liquidity as published) plus the blocks between them,
timestamped 12 s apart from the previous event block (post-merge slots); the pool's state at a block is
the state after its last event. The head grows with wall-clock time (`--bps` blocks per second from
`--head0`), so a client polling it sees blocks arrive as on a live node. Faults on request:
`--rate-limit-every N` (HTTP 429), `--slow-every N --slow-s S` (a reply later than the client's timeout),
`--stall-at B` (the head stops), `--halt-after B --halt-s S` (no block for S seconds after B), `--chain-id`. Every request's method is appended to `--log` (one line).
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from eth_abi import encode
from eth_utils import keccak

DATA = Path(__file__).with_name("data") / "pool_events.csv.gz"
POOL = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"
NOT_A_POOL = "0x00000000000000000000000000000000000000aa"    # has code; slot0 reverts (an ERC-20, say)
USDC, WETH = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", "0xc02aaa39b223fe8d0a0e5c756cf483e9c9ff3c2c"
SWAP_TOPIC = "0x" + keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)").hex()
# the pool just before its first event of the day (block 18937382): ../shared/data rel-price at 00:00
OPEN_SQRT_PRICE, OPEN_TICK, OPEN_LIQUIDITY = 1662989727226084088942105379516512, 199045, 12453647101533358277
BASE_FEE_WEI = 22_821_996_688     # Etherscan's average gas price on 2024-01-05 (ethereum_gas_eth_price_daily)
SELECTORS = {"0x3850c7bd": "slot0", "0x1a686502": "liquidity", "0xddca3f43": "fee", "0xd0c93a7c": "tickSpacing",
             "0x0dfe1681": "token0", "0xd21220a7": "token1"}
READ_ONLY = {"eth_chainId", "net_version", "eth_blockNumber", "eth_getBlockByNumber", "eth_getLogs", "eth_call",
             "eth_getCode", "eth_gasPrice"}


def _hex(n: int) -> str:
    return hex(int(n))


def _pad_address(address: str) -> str:
    return "0x" + "0" * 24 + address.lower()[2:]


class Chain:
    def __init__(self, path: Path = DATA):
        import csv

        with gzip.open(path, "rt") as handle:
            rows = list(csv.DictReader(handle))
        self.logs: list[dict] = []
        states: dict[int, tuple[int, int, int]] = {}
        times: dict[int, int] = {}
        import datetime as dt

        for row in rows:
            block = int(row["block_number"])
            ts = int(dt.datetime.strptime(row["block_timestamp"], "%Y-%m-%d %H:%M:%S")
                     .replace(tzinfo=dt.timezone.utc).timestamp())
            times[block] = ts
            if row["tx_type"] == "COLLECT":
                continue                       # collect changes neither price nor liquidity
            states[block] = (int(row["sqrtPriceX96"]), int(float(row["current_tick"])), int(row["total_liquidity"]))
            if row["tx_type"] == "SWAP":
                self.logs.append({
                    "block": block, "log_index": int(row["log_index"]), "tx_index": int(row["tx_index"]),
                    "tx": row["transaction_hash"], "sender": row["sender"], "recipient": row["receipt"],
                    "data": "0x" + encode(["int256", "int256", "uint160", "uint128", "int24"],
                                          [int(row["amount0"]), int(row["amount1"]), int(row["sqrtPriceX96"]),
                                           int(row["total_liquidity"]), int(float(row["current_tick"]))]).hex()})
        event_blocks = sorted(times)
        self.first = event_blocks[0] - 2
        self.last = event_blocks[-1]
        self.timestamps = {self.first: times[event_blocks[0]] - 24, self.first + 1: times[event_blocks[0]] - 12}
        previous = self.first + 1
        for block in event_blocks:
            for b in range(previous + 1, block):
                self.timestamps[b] = self.timestamps[previous] + 12 * (b - previous)
            self.timestamps[block] = times[block]
            previous = block
        self.state_blocks = [self.first] + sorted(states)
        self.states = [(OPEN_SQRT_PRICE, OPEN_TICK, OPEN_LIQUIDITY)] + [states[b] for b in sorted(states)]
        self.logs.sort(key=lambda e: (e["block"], e["log_index"]))

    def state_at(self, block: int) -> tuple[int, int, int]:
        return self.states[bisect.bisect_right(self.state_blocks, block) - 1]


class Standin:
    def __init__(self, args):
        self.args, self.chain = args, Chain()
        self.started = time.monotonic()
        self.count = 0
        self.lock = threading.Lock()
        self.head0 = args.head0 if args.head0 is not None else self.chain.first + 4
        if args.halt_after is not None:          # a chain halt: every later block comes halt_s later
            for block in self.chain.timestamps:
                if block > args.halt_after:
                    self.chain.timestamps[block] += args.halt_s

    def head(self) -> int:
        grown = self.head0 + int((time.monotonic() - self.started) * self.args.bps)
        if self.args.stall_at is not None:
            grown = min(grown, self.args.stall_at)
        return min(grown, self.chain.last)

    def block_tag(self, tag) -> int:
        if tag in (None, "latest", "safe", "finalized"):
            return self.head()
        if tag == "earliest":
            return self.chain.first
        return int(tag, 16)

    def block(self, number: int) -> dict | None:
        if number > self.head() or number not in self.chain.timestamps:
            return None
        digest = "0x" + keccak(number.to_bytes(8, "big")).hex()
        parent = "0x" + keccak((number - 1).to_bytes(8, "big")).hex()
        return {"number": _hex(number), "hash": digest, "parentHash": parent, "timestamp": _hex(self.chain.timestamps[number]),
                "baseFeePerGas": _hex(BASE_FEE_WEI), "gasLimit": _hex(30_000_000), "gasUsed": _hex(15_000_000),
                "miner": "0x" + "0" * 40, "transactions": [], "uncles": [], "nonce": "0x0000000000000000",
                "difficulty": "0x0", "totalDifficulty": "0x0", "size": "0x1", "extraData": "0x",
                "logsBloom": "0x" + "0" * 512, "sha3Uncles": "0x" + "0" * 64, "stateRoot": "0x" + "0" * 64,
                "transactionsRoot": "0x" + "0" * 64, "receiptsRoot": "0x" + "0" * 64, "mixHash": "0x" + "0" * 64}

    def get_logs(self, query: dict) -> list[dict]:
        first, last = self.block_tag(query.get("fromBlock")), self.block_tag(query.get("toBlock"))
        if last > self.head():
            raise ValueError("block range extends beyond current head block")
        address = query.get("address")
        addresses = {a.lower() for a in (address if isinstance(address, list) else [address])} if address else None
        topics = query.get("topics") or []
        out = []
        for e in self.chain.logs:
            if not first <= e["block"] <= last or (addresses and POOL not in addresses):
                continue
            if topics and topics[0] not in (None, SWAP_TOPIC) and SWAP_TOPIC not in (topics[0] if isinstance(topics[0], list) else []):
                continue
            digest = "0x" + keccak(e["block"].to_bytes(8, "big")).hex()
            out.append({"address": POOL, "topics": [SWAP_TOPIC, _pad_address(e["sender"]), _pad_address(e["recipient"])],
                        "data": e["data"], "blockNumber": _hex(e["block"]), "blockHash": digest,
                        "transactionHash": e["tx"], "transactionIndex": _hex(e["tx_index"]),
                        "logIndex": _hex(e["log_index"]), "removed": False})
        return out

    def call(self, tx: dict, tag) -> str:
        to, data = (tx.get("to") or "").lower(), (tx.get("data") or tx.get("input") or "")[:10]
        number = self.block_tag(tag)
        if number > self.head():
            raise ValueError("header not found")
        if to == NOT_A_POOL:
            raise RuntimeError("execution reverted")
        if to != POOL or data not in SELECTORS:
            return "0x"
        sqrt_price, tick, liquidity = self.chain.state_at(number)
        name = SELECTORS[data]
        if name == "slot0":
            return "0x" + encode(["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"],
                                 [sqrt_price, tick, 0, 1, 1, 0, True]).hex()
        values = {"liquidity": (["uint128"], [liquidity]), "fee": (["uint24"], [500]), "tickSpacing": (["int24"], [10]),
                  "token0": (["address"], [USDC]), "token1": (["address"], [WETH])}[name]
        return "0x" + encode(*values).hex()

    def answer(self, method: str, params: list):
        if method == "eth_chainId":
            return _hex(self.args.chain_id)
        if method == "net_version":
            return str(self.args.chain_id)
        if method == "eth_blockNumber":
            return _hex(self.head())
        if method == "eth_getBlockByNumber":
            return self.block(self.block_tag(params[0]))
        if method == "eth_getLogs":
            return self.get_logs(params[0])
        if method == "eth_call":
            return self.call(params[0], params[1] if len(params) > 1 else "latest")
        if method == "eth_getCode":
            return "0x6080604052" if params[0].lower() in (POOL, NOT_A_POOL) else "0x"
        if method == "eth_gasPrice":
            return _hex(BASE_FEE_WEI)
        raise LookupError(method)


def make_handler(standin: Standin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, code: int, body: dict | list | str) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            args = standin.args
            with standin.lock:
                standin.count += 1
                n = standin.count
            method = request.get("method", "")
            if args.log:
                with open(args.log, "a") as handle:
                    handle.write(f"{method} {self.path}\n")
            if args.rate_limit_every and n % args.rate_limit_every == 0:
                return self._send(429, {"jsonrpc": "2.0", "id": request.get("id"),
                                        "error": {"code": -32005, "message": "rate limit exceeded"}})
            if args.slow_every and n % args.slow_every == 0:
                time.sleep(args.slow_s)
            try:
                result = standin.answer(method, request.get("params") or [])
                body = {"jsonrpc": "2.0", "id": request.get("id"), "result": result}
            except LookupError:
                body = {"jsonrpc": "2.0", "id": request.get("id"),
                        "error": {"code": -32601, "message": f"the method {method} does not exist/is not available"}}
            except RuntimeError as exc:
                body = {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": 3, "message": str(exc), "data": "0x"}}
            except ValueError as exc:
                body = {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32000, "message": str(exc)}}
            self._send(200, body)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--chain-id", type=int, default=1)
    parser.add_argument("--bps", type=float, default=50.0, help="blocks added to the head per second")
    parser.add_argument("--head0", type=int, default=None)
    parser.add_argument("--stall-at", type=int, default=None)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--slow-every", type=int, default=0)
    parser.add_argument("--slow-s", type=float, default=0.0)
    parser.add_argument("--halt-after", type=int, default=None)
    parser.add_argument("--halt-s", type=int, default=0)
    parser.add_argument("--log", type=Path, default=None)
    args = parser.parse_args()
    standin = Standin(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(standin))
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
