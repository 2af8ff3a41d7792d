"""Endpoint URLs lose their secrets before any log line, metric or decision sees them."""

from hbbatch.monitoring.redact import redact_url, scrub


def test_redact__keys_in_path_query_and_credentials_are_hidden():
    assert redact_url("https://mainnet.infura.io/v3/abcdef0123456789") == "https://mainnet.infura.io/…"
    assert redact_url("https://eth.llamarpc.com") == "https://eth.llamarpc.com"
    assert redact_url("https://user:pw@node.example:8545/?apikey=XYZ") == "https://node.example:8545/…"
    text = "HTTPError for url: https://rpc.example/v3/abcdef0123456789?apikey=QQQQQQ (abcdef0123456789)"
    cleaned = scrub(text, "https://rpc.example/v3/abcdef0123456789?apikey=QQQQQQ")
    assert "abcdef0123456789" not in cleaned and "QQQQQQ" not in cleaned and "https://rpc.example/…" in cleaned
