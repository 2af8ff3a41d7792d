"""Endpoint URLs without their secrets: providers put API keys in the path (/v3/KEY) or the query."""

from __future__ import annotations

from urllib.parse import urlsplit


def redact_url(url: str | None) -> str:
    """scheme://host[:port] with '/…' for any path, query or credentials: safe for logs and metrics."""
    if not url:
        return ""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    hidden = bool(parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password)
    return f"{parts.scheme}://{host}{port}" + ("/…" if hidden else "")


def scrub(text: str, url: str | None) -> str:
    """`text` with the URL and every secret-bearing piece of it replaced by its redacted form."""
    if not url:
        return text
    text = text.replace(str(url), redact_url(url))
    parts = urlsplit(str(url))
    pieces = [p for p in parts.path.split("/") if len(p) >= 6] + [parts.query, parts.username or "", parts.password or ""]
    pieces += [kv.split("=", 1)[-1] for kv in parts.query.split("&") if "=" in kv]
    for piece in sorted({p for p in pieces if p and len(p) >= 4}, key=len, reverse=True):
        text = text.replace(piece, "…")
    return text
