"""A plain `pip install .` (not editable) works from any folder: conf/, expectations/ and queries/ travel
inside the wheel. The slow check builds the package from a copy of the checkout into a fresh venv
(`--no-deps`: the dependencies come from this environment; the build backend from the configured index)
and runs it from an empty folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import hbbatch
from hbbatch.config import RESOURCES

REPO = Path(hbbatch.__file__).resolve().parents[1]


def test_the_build_copies_every_resource_folder_and_the_sdist_carries_them():
    import ast

    setup_py = ast.parse((REPO / "setup.py").read_text())
    copied = next(ast.literal_eval(node.value) for node in setup_py.body if isinstance(node, ast.Assign)
                  and getattr(node.targets[0], "id", None) == "RESOURCES")
    assert tuple(copied) == RESOURCES
    manifest = (REPO / "MANIFEST.in").read_text()
    assert all(re.search(rf"^graft {name}$", manifest, re.M) for name in RESOURCES)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv with hbbatch installed from a wheel, an empty working folder), both inside a
    git checkout of something else, as a user's ignored .venv/ sits inside their clone."""
    root = tmp_path_factory.mktemp("install")
    (root / ".gitignore").write_text("source/\nvenv/\nelsewhere/\n")
    for args in (["init", "-q"], ["add", ".gitignore"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                                                         "-m", "a checkout around the venv"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "outputs", "multirun", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".hypothesis", "results"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies: this environment's packages, after the venv's own (a .pth adds no editable finders)
    (site / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shutil.rmtree(source)     # nothing of the checkout is left to fall back on
    work = root / "elsewhere"
    work.mkdir()
    return python, work


def _run(installed, *args):
    python, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HB_SEED", "EPISODE_COUNT",
                                                            "HB_REGIME_MIX", "DUNE_CALIBRATION_JSON")}
    return subprocess.run([str(python), "-m", "hbbatch", *args], cwd=work, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.slow
def test_pip_install__runs_a_campaign_and_a_calibration_from_any_folder(installed):
    python, work = installed
    where = subprocess.run([str(python), "-c", "import hbbatch.config as c; print(c.CONF_DIR)"], cwd=work,
                           capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")})
    assert "site-packages/hbbatch/_resources/conf" in where.stdout, where.stderr
    version = _run(installed, "--version")
    assert version.stdout.strip() == f"hbbatch {hbbatch.__version__}"
    shown = _run(installed, "--help")   # its groups are read from the installed conf/
    assert shown.returncode == 0 and "world=historical|" in shown.stdout and "+experiment=long_run|" in shown.stdout
    done = _run(installed, "n_episodes=4", "n_steps=20", "world.validate=false", "hydra.run.dir=run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"manifest.json", "episodes.parquet", "run_results.json"} <= {p.name for p in (work / "run").iterdir()}
    # the wheel's code is not the surrounding checkout's commit
    code = json.loads((work / "run" / "manifest.json").read_text())["code_version"]
    assert code == {"hbbatch": hbbatch.__version__, "git_commit": None, "git_dirty": None}
    calibrated = _run(installed, "task=calibrate", "hydra.run.dir=calibration")
    assert calibrated.returncode == 0, calibrated.stderr[-2000:]
    refit = json.loads((work / "calibration" / "calibration_report.json").read_text())
    assert refit["hash"] == json.loads((REPO / "hbbatch" / "data" / "calibration_report.json").read_text())["hash"]
