"""`hbbatch --help`: tasks, config groups and their options, the main overrides with their defaults and
ranges (read from the schema, so the text cannot drift from what is checked), the environment variables,
exit codes and the artifact contract. Hydra's own help stays available as `--hydra-help`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hbbatch import __version__

MAIN_OVERRIDES = ("seed", "n_episodes", "n_steps", "dtype", "agent.gas_usd", "agent.fee_gate_usd",
                  "agent.capital_usd", "floors.mean_revert", "regime_mix.jumpy", "market.fee_rate",
                  "criteria.fail_on_violation", "stats.n_bootstrap", "paths.output_dir", "shards", "force")
# Hydra's launchers (hydra/launcher=...): the plugins pyproject.toml installs, and conf/hydra/launcher/
LAUNCHERS = ("basic", "joblib", "submitit_local", "submitit_slurm", "ray", "ray_cluster")

# The artifact contract: what each kind of run writes (tests/test_help.py holds it against real runs).
RUN_FILES = {          # a multirun's folder
    "run_results.json": "status, timing and message per job and per criterion (dbt-shaped)",
    "comparison.parquet": "paired statistics per variant pair, metric and regime",
    "criteria.json": "great-expectations results of the success suites",
    "rule_values.parquet": "each rule's value (with minus without it, same seeds), every job",
    "summary.json": "per-variant summary and convergence table",
    "report.html": "self-contained report (opens offline)",
    "multirun.yaml": "the sweep's config (Hydra)",
}
JOB_FILES = ("manifest.json", "episodes.parquet", "rules.parquet", "rule_values.parquet", "summary.json",
             "hbbatch.log")   # and .hydra/: each job's folder
SINGLE_RUN_FILES = ("run_results.json", "comparison.parquet", "rule_values.parquet", "summary.json", "report.html")
TASK_FILES = {         # task=... other than campaign: its run folder, besides .hydra/ and hbbatch.log
    "calibrate": ("calibration_report.json",), "plan": ("plan.json",), "plan_sim": ("plan_sim.json",),
    "replay": ("replay.parquet", "summary.json"),
}


def _artifacts() -> list[str]:
    import textwrap

    width = max(map(len, RUN_FILES)) + 2
    wrap = lambda text, indent: textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent + "  ")  # noqa: E731
    return [
        "  a multirun (-m): outputs/<experiment>/<YYYY-MM-DD_HH-MM-SS>/",
        *(f"    {name:<{width}}{what}" for name, what in RUN_FILES.items()),
        *wrap(f"{'<n>_<overrides>/':<{width}}each job: .hydra/ " + " ".join(JOB_FILES), "    "),
        *wrap("a single run: outputs/<campaign>/<YYYY-MM-DD_HH-MM-SS>/ holds its job's files and "
              + " ".join(SINGLE_RUN_FILES) + "; criteria.json wherever criteria are judged", "  "),
        *wrap("; ".join(f"task={task}: {' '.join(names)}" for task, names in TASK_FILES.items())
              + " (replay.agent=true: agent.parquet); task=shadow: decisions.jsonl state.snapshot run.json "
              "dashboard.html in shadow.state_dir", "  "),
        "  Every file is written to a temporary name and renamed.",
    ]


def _field(schema: type, dotted: str) -> dataclasses.Field | None:
    import typing

    cls: object = schema
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return None
        if i == len(parts) - 1:
            return fields[part]
        cls = typing.get_type_hints(cls)[part]
    return None


def _describe(schema: type, dotted: str) -> str:
    from hbbatch.config.bounds import field_bounds

    f = _field(schema, dotted)
    if f is None:
        return ""
    default = f.default if f.default is not dataclasses.MISSING else None
    bounds = field_bounds(f)
    text = f"default {default}" if default is not None else ""
    if bounds is not None:
        text += ("; " if text else "") + bounds.describe()
    return text


def _groups(conf_dir: Path) -> list[str]:
    lines = []
    for group in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name != "hydra"):
        options = sorted(p.stem for p in group.glob("*.yaml"))
        prefix = "+" if group.name == "experiment" else ""
        lines.append(f"  {prefix}{group.name}=" + "|".join(options))
    return lines


def help_text(conf_dir: Path) -> str:
    from hbbatch.config.schema import TASKS, Config

    overrides = [f"  {key:<28} {_describe(Config, key)}" for key in MAIN_OVERRIDES]
    return "\n".join([
        f"hbbatch {__version__}: declarative batch campaigns for a concentrated-liquidity LP agent",
        "",
        "usage: python -m hbbatch [KEY=VALUE ...] [+experiment=NAME] [-m]",
        "       python -m hbbatch --version | --help | --hydra-help | --cfg job",
        "",
        "examples:",
        "  python -m hbbatch                                   one campaign on the embedded defaults",
        "  python -m hbbatch +experiment=three_way -m          campaigns A/B/C on the same seeds, gated",
        "  python -m hbbatch -m floors.mean_revert=800,1000,1200",
        "  python -m hbbatch task=calibrate calibration.source=dune",
        "",
        "tasks (task=...): " + ", ".join(TASKS),
        "",
        "config groups (GROUP=OPTION; files under conf/):",
        *_groups(conf_dir),
        "  hydra/launcher=" + "|".join(LAUNCHERS),
        "",
        "main overrides (every numeric key is checked against its bounds before anything runs):",
        *overrides,
        "",
        "environment: HB_SEED, EPISODE_COUNT, HB_REGIME_MIX (uncalibrated campaigns' mix),",
        "  DUNE_CALIBRATION_JSON (campaign C's report), DUNE_API_KEY (calibration.source=dune)",
        "",
        "exit status: 0 ok, 1 a success criterion failed, 2 an error (bad input included), 130 interrupted",
        "",
        "artifacts:",
        *_artifacts(),
    ])


def show(conf_dir: Path) -> None:
    """Print the help; a reader that stops early (`| head`) ends it quietly, as a closed pipe should."""
    import os
    import sys

    try:
        print(help_text(conf_dir), flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # nothing left to flush at exit
