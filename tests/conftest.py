"""Fixtures for the whole suite."""

from __future__ import annotations

import gzip
import shutil
import signal
from pathlib import Path

import pytest

EMBEDDED = Path(__file__).resolve().parent / "data"

# The Ctrl-C tests send SIGINT to commands they start. A suite started where SIGINT is ignored (a shell's
# background job: `./.ci/run &`) passes that to every child, which then cannot be interrupted at all; with
# Python's own handler here, a child starts with the default one, as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """The files of ../shared the tests read, unpacked from tests/data/shared/ with their original layout
    (`<dir>/data/...`, `<dir>/reference/...`): no test depends on ../shared existing (tests/data/shared/README.md)."""
    root = tmp_path_factory.mktemp("shared")
    for packed in (EMBEDDED / "shared").rglob("*.gz"):
        target = root / packed.relative_to(EMBEDDED / "shared").with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(packed, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
    day = root / "data" / "mainnet_usdc_weth_2024-01-05"
    for path in (EMBEDDED / "mainnet_usdc_weth_2024-01-05").glob("ethereum-0x88e6a0c2*"):
        shutil.copy(path, day / path.name)
    return root
