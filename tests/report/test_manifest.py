"""manifest.json: the config hash follows what determines results, git state counts untracked files."""

import os
import subprocess
import time

import pytest

from hbbatch.report.manifest import RESULT_SECTIONS, build_manifest, content_hash, git_state


def _config(**changes):
    config = {"world": {"name": "historical"}, "market": {"fee_rate": 0.0005}, "agent": {"gas_usd": 2.0},
              "floors": {"mean_revert": 1200},
              "regime_mix": {"mean_revert": 0.4}, "gating": {"mode": "ev"}, "n_episodes": 100, "n_steps": 60,
              "dtype": "float32", "seed": 42, "paths": {"output_dir": "outputs"}, "report": {"html": True},
              "experiment_name": "three_way", "campaign": "B"}
    return {**config, **changes}


def _hash(config):
    return build_manifest(job={}, config=config, calibration={"hash": "none"}, spec={}, seed=42)["config_hash"]


def test_build_manifest__config_hash_ignores_where_files_go_and_how_the_report_looks():
    base = _hash(_config())
    assert base == content_hash({k: _config()[k] for k in RESULT_SECTIONS})
    assert _hash(_config(paths={"output_dir": "/elsewhere"}, report={"html": False},
                         experiment_name="renamed")) == base
    for changed in ({"market": {"fee_rate": 0.003}}, {"seed": 7}, {"n_episodes": 101}, {"gating": {"mode": "off"}},
                    {"dtype": "float64"}, {"regime_mix": {"mean_revert": 0.49}}, {"world": {"name": "stress_l2_gas"}}):
        assert _hash(_config(**changed)) != base, changed
    manifest = build_manifest(job={}, config=_config(), calibration={"hash": "none"}, spec={}, seed=42)
    assert manifest["config"]["paths"] == {"output_dir": "outputs"}   # the full config is still stored


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def committed(tmp_path):
    """A git repository in tmp_path with one committed file, a.py."""
    try:
        _git(tmp_path, "init", "-q")
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git is not available")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
    return tmp_path


def test_git_state__an_untracked_file_makes_the_tree_dirty(committed):
    tmp_path = committed
    clean = git_state(tmp_path)
    assert clean["git_dirty"] is False and len(clean["git_commit"]) == 40
    (tmp_path / "new_rule.py").write_text("y = 2\n")
    assert git_state(tmp_path)["git_dirty"] is True
    (tmp_path / ".gitignore").write_text("new_rule.py\n.gitignore\n")
    assert git_state(tmp_path)["git_dirty"] is False                  # ignored files do not count
    assert git_state(tmp_path / "not_a_repo") == {"git_commit": None, "git_dirty": None}


def test_git_state__reads_without_locks_and_never_rewrites_the_index(committed):
    tmp_path = committed
    index = tmp_path / ".git" / "index"

    def make_index_stale():
        later = time.time() + 5
        os.utime(tmp_path / "a.py", (later, later))    # same content, new mtime: git wants to refresh the index
        return index.read_bytes()

    # control: a plain `git status` refreshes the stale index, i.e. takes index.lock and rewrites the index
    before = make_index_stale()
    subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain"], check=True, capture_output=True,
                   env={k: v for k, v in os.environ.items() if k != "GIT_OPTIONAL_LOCKS"})
    assert index.read_bytes() != before
    # the provenance check reads the same state and leaves the index alone: git writes it only through
    # index.lock, so an unchanged index means the lock was never taken
    before = make_index_stale()
    assert git_state(tmp_path)["git_dirty"] is False
    assert index.read_bytes() == before and not (tmp_path / ".git" / "index.lock").exists()


def test_git_state__code_installed_into_a_venv_inside_a_checkout_is_not_that_checkouts_commit(committed):
    """`pip install .` (not editable) into a .venv inside a clone: the running module lives under the clone
    but is not a file it tracks, so the manifest must not claim the clone's commit for it."""
    installed = committed / ".venv" / "lib" / "site-packages"
    (installed / "hbbatch").mkdir(parents=True)
    (installed / "hbbatch" / "__init__.py").write_text("__version__ = '0.1.0'\n")
    (committed / ".gitignore").write_text(".venv/\n")
    _git(committed, "add", ".gitignore")
    _git(committed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "ignore")
    assert git_state(installed, installed / "hbbatch" / "__init__.py") == {"git_commit": None, "git_dirty": None}
    tracked = git_state(committed, committed / "a.py")        # the checkout's own code: its commit
    assert len(tracked["git_commit"]) == 40 and tracked["git_dirty"] is False


def test_code_version__of_this_checkout_is_its_commit():
    from hbbatch.report.manifest import REPO_DIR, code_version

    head = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout (an sdist or a wheel): nothing to attribute")
    assert code_version()["git_commit"] == head.stdout.strip()
