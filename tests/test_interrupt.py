"""Ctrl-C during an import is held until the import is done, then raised as the usual KeyboardInterrupt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from hbbatch import interrupt

PROGRAM = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    if sys.argv[2] == "held":
        from hbbatch import interrupt
        interrupt.install()
    try:
        import slow_module   # sends itself SIGINT halfway through its own import
        time.sleep(5)
        print("not interrupted")
    except KeyboardInterrupt:
        module = sys.modules.get("slow_module")
        print("interrupted; module complete:", getattr(module, "COMPLETE", False))
""")
SLOW_MODULE = textwrap.dedent("""
    import signal, time
    signal.raise_signal(signal.SIGINT)   # Ctrl-C while this module is being imported
    time.sleep(0.3)
    COMPLETE = True
""")


@pytest.mark.parametrize("mode, expected", [("held", "interrupted; module complete: True"),
                                            ("python's own", "interrupted; module complete: False")])
def test_interrupt__ctrl_c_during_an_import_is_raised_after_it(tmp_path, mode, expected):
    """With the handler the interrupt comes once the module is whole (the oracle: Python's own handler raises it
    inside the import, leaving the module half-run), and is still raised, not lost."""
    (tmp_path / "slow_module.py").write_text(SLOW_MODULE)
    root = os.path.dirname(os.path.dirname(os.path.abspath(interrupt.__file__)))
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path), mode], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": root})
    assert done.stdout.strip() == expected, done.stdout + done.stderr


def test_interrupt__outside_an_import_ctrl_c_is_raised_at_once():
    with pytest.raises(KeyboardInterrupt):
        interrupt._handle(2, sys._getframe())
    assert not interrupt.importing(sys._getframe())
