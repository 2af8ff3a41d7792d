"""The terminal summary: the verdict first, money per week, and every line within 100 columns."""

from rich.console import Console

from hbbatch.report.multirun import collect_jobs, finish_run
from hbbatch.report import table
from tests.report.conftest import episodes_frame


def test_print_report__fits_100_columns_without_cutting_a_cell(tmp_path, make_job, run_config, monkeypatch):
    run_dir = tmp_path / "run"
    for num, (floor, shift) in enumerate(((1200, 0.0), (1000, 540.0), (800, 1250.0))):
        make_job(run_dir, num, "C", [f"floors.mean_revert={floor}"], episodes_frame(shift_usd=shift, widens_per_action=0.6))
    console = Console(width=table.WIDTH, record=True, highlight=False)
    real = table.print_report
    monkeypatch.setattr(table, "print_report", lambda *a, **k: real(*a, **k, console=console))
    config = {**run_config(), "base": {"floors": {"mean_revert": 1200.0}}}
    finish_run(run_dir, collect_jobs(run_dir), config)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "…" not in text
    assert lines[1].startswith(("Take floors.mean_revert=800 live", "Not ready", "Not proven"))
    assert "+$1,250 [" in text                      # the gain per week with its interval, whole dollars
    assert "floors.mean_revert=1200" in text.replace("\n", "")


def test_build_tables__one_setting_has_no_baseline_in_its_title():
    import pandas as pd

    jobs = [{"label": "default", "world": "historical", "status": "error", "message": "x"}]
    alone = table.build_tables(pd.DataFrame(), jobs, [], None, 0.95)[0]
    judged = table.build_tables(pd.DataFrame(), jobs, [], "A", 0.95)[0]
    assert alone.title == "World historical: money per week"
    assert judged.title == "World historical: money per week; gain vs baseline A with its 95% paired bootstrap CI"
