"""Manual override of a shadow run: `pause`, `resume`, `exit`, from a file or a local HTTP endpoint.

- File: write `control.json` in the state directory, e.g.
      {"command": "pause", "by": "alice", "reason": "gas spike"}
  (write a temporary file and rename it). Each new content is applied once, at the next step.
- HTTP (`shadow.rails.control_port`): POST http://127.0.0.1:PORT/control with the same JSON; GET /control
  answers the override in force. Only 127.0.0.1 is bound.

`pause` holds every rebalance (safety exits still fire), `resume` lifts a pause, `exit` withdraws the
position and stands the agent down for good (the simulator's manual exit; `resume` does not re-enter).
Every change is logged with who set it, how and why, and lands in the step's decision record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
COMMANDS = ("pause", "resume", "exit")
CONTROL_FILE = "control.json"
MAX_BODY_BYTES = 4096


class ControlError(ValueError):
    """A control request that cannot be applied."""


def parse_command(payload: Any, via: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ControlError(f"{via}: expected a JSON object like {{\"command\": \"pause\", \"by\": \"name\"}}")
    command = payload.get("command")
    if command not in COMMANDS:
        raise ControlError(f"{via}: command {command!r}; use one of {', '.join(COMMANDS)}")
    by = str(payload.get("by") or "unknown")[:80]
    reason = str(payload.get("reason") or "")[:200]
    return {"command": command, "by": by, "reason": reason, "via": via}


class ControlFile:
    """Polls `control.json` in the state directory; a content seen before is not applied again."""

    def __init__(self, state_dir: Path, applied_digest: str | None = None):
        self.path = Path(state_dir) / CONTROL_FILE
        self.applied_digest = applied_digest

    def mark_applied(self) -> None:
        """The file's current content counts as applied (a resumed run re-applied it from the log)."""
        try:
            self.applied_digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except FileNotFoundError:
            pass

    def poll(self) -> dict[str, Any] | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.applied_digest:
            return None
        self.applied_digest = digest
        try:
            return parse_command(json.loads(data), f"file {self.path.name}")
        except (ValueError, ControlError) as exc:
            log.error("control: %s ignored: %s", self.path, exc)
            return None


class ControlServer:
    """POST /control on 127.0.0.1; requests queue up and are applied at the next step."""

    def __init__(self, port: int, status: callable):
        self.requests: queue.Queue[dict[str, Any]] = queue.Queue()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):      # requests are logged when applied, not here
                pass

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/") != "/control":
                    return self._reply(404, {"error": "use /control"})
                self._reply(200, status())

            def do_POST(self):
                if self.path.rstrip("/") != "/control":
                    return self._reply(404, {"error": "use /control"})
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    return self._reply(413, {"error": "request too large"})
                try:
                    request = parse_command(json.loads(self.rfile.read(length) or b"null"),
                                            f"http {self.client_address[0]}")
                except (ValueError, ControlError) as exc:
                    return self._reply(400, {"error": str(exc)})
                owner.requests.put(request)
                self._reply(202, {"accepted": request, "applies": "at the next step"})

        self.server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="shadow-control", daemon=True)
        self.thread.start()

    def poll(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                out.append(self.requests.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Override:
    """The override in force: none, pause (hold) or exit; `history` keeps who set what."""

    def __init__(self, mode: str = "none", history: list | None = None):
        self.mode, self.history = mode, list(history or [])

    def apply(self, request: dict[str, Any], step: int) -> dict[str, Any]:
        command = request["command"]
        if self.mode == "exit" and command != "exit":
            request = {**request, "ignored": "the agent has exited for good; start a new run to re-enter"}
        elif command == "pause":
            self.mode = "pause"
        elif command == "resume":
            self.mode = "none"
        else:
            self.mode = "exit"
        entry = {**request, "step": step, "mode": self.mode}
        self.history.append(entry)
        log.warning("override: %s by %s via %s at step %d%s%s -> %s", command, request["by"], request["via"], step,
                    f" ({request['reason']})" if request.get("reason") else "",
                    f"; ignored: {request['ignored']}" if request.get("ignored") else "", self.mode)
        return entry

    @property
    def simulator_mode(self) -> str:
        return {"none": "none", "pause": "hold", "exit": "exit"}[self.mode]
