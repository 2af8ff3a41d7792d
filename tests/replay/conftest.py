from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "mainnet_usdc_weth_2024-01-05"
BARS = DATA / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.minute.csv"
POSITIONS = DATA / "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05-2024-01-05.positions.csv"
USER_POSITIONS = DATA / "ethereum-0x88e6-2024-01-05.user_lp.csv"


@pytest.fixture(scope="session")
def bars_path():
    assert BARS.exists(), f"{BARS}: the embedded 2024-01-05 minute bars are part of the test data"
    return BARS
