"""The suite passes on a fresh clone where ../shared does not exist: no test reads it (the data they check
against is embedded, tests/data/shared/README.md), so none can skip for want of it."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# a path into the checkout's sibling folder: `parents[n] / "shared"`, `.parent / "shared"`, "../shared/..."
SHARED_PATH = re.compile(r"""(parents\[\d+\]|\.parent)\s*/\s*["']shared["']|["'](\.\./|/work/)shared/""")


def test_no_test_reads_the_shared_folder():
    readers = [f"{path.relative_to(TESTS)}:{n}" for path in sorted(TESTS.rglob("*.py"))
               if path != Path(__file__).resolve() and "data" not in path.relative_to(TESTS).parts   # builders
               for n, line in enumerate(path.read_text().splitlines(), 1)
               if SHARED_PATH.search(line.split("#", 1)[0])]
    assert readers == [], "embed the data under tests/data instead: " + ", ".join(readers)


def test_the_shared_fixture_unpacks_every_embedded_file(shared_dir):
    packed = sorted(p.relative_to(TESTS / "data" / "shared").with_suffix("")
                    for p in (TESTS / "data" / "shared").rglob("*.gz"))
    assert packed and all((shared_dir / p).is_file() and (shared_dir / p).stat().st_size > 0 for p in packed)
