"""The suite passes on a fresh clone where ../shared does not exist: no test reads it (the data they check
against is embedded, tests/data/shared/README.md), so none can skip for want of it. Every command the
README shows composes and passes the checks a run starts with."""

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


README = TESTS.parent / "README.md"
# `VAR=value ... python -m hbbatch ARGS  # comment`, continuation lines joined; placeholders (<...>) and flags skipped
COMMAND = re.compile(r"^    ((?:[A-Z_]+=\S+ )*)python -m hbbatch(?: (.*))?$")


def readme_commands() -> list[tuple[dict[str, str], list[str], str]]:
    import shlex

    found = []
    for line in README.read_text().replace("\\\n", " ").splitlines():
        match = COMMAND.match(line)
        if match:
            env = dict(pair.split("=", 1) for pair in match.group(1).split())
            args = shlex.split(match.group(2) or "", comments=True)
            if not any(a.startswith("--") or "<" in a for a in args):
                found.append((env, args, line.strip()))
    return found


def test_every_readme_command_composes_and_passes_the_checks_a_run_starts_with(monkeypatch):
    """Each `python -m hbbatch ...` the README shows composes (with the environment it sets) and passes the
    checks Hydra's start callback runs before any folder is made (bounds, cross-field rules, folders), so
    a README command cannot be refused for a stale key or value. What the run then finds (a world that fails
    its check, a network service) is not seen here."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode
    from hydra import initialize_config_dir

    import hbbatch.cli  # noqa: F401  (the schema and hbbatch's resolvers)
    from hbbatch.config import CONF_DIR
    from hbbatch.config.callback import RUN_FOLDERS, check_job_config, hydra_folder_problems
    from hbbatch.env_vars import overrides_from

    commands = readme_commands()
    assert len(commands) >= 30
    refused = []
    for env, args, line in commands:
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            multirun = "-m" in args
            overrides = [*overrides_from(args), *(a for a in args if a != "-m")]
            GlobalHydra.instance().clear()
            try:
                with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
                    config = GlobalHydra.instance().config_loader().load_configuration(
                        "config", overrides, run_mode=RunMode.MULTIRUN if multirun else RunMode.RUN)
                    check_job_config(config)
                    refused += [f"{line}: {p}" for p in hydra_folder_problems(config, RUN_FOLDERS)]
            except Exception as exc:   # noqa: BLE001  (every refusal is a finding to list)
                refused.append(f"{line}: {type(exc).__name__}: {exc}")
            finally:
                GlobalHydra.instance().clear()
    assert refused == []
