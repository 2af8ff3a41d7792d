from pathlib import Path

HERE = Path(__file__).resolve().parent
# The first 120 minutes of demeter's mainnet USDC/WETH 0.05 % minute bars on 2024-01-05 (Apache-2.0,
# zelos-alpha/demeter-fetch : tests/samples @ 2fda05e; see hbbatch/data/README.md)
DEMETER_SAMPLE = HERE / "demeter_2024-01-05_first_120_minutes.csv"


def demeter_sample(tmp_path: Path) -> Path:
    return DEMETER_SAMPLE
