import logging

from hbbatch.campaign.progress import Progress


def test_progress__log_mode_writes_one_line_per_stage(caplog):
    caplog.set_level(logging.INFO, logger="hbbatch.campaign.progress")
    with Progress("B", 100, mode="log") as progress:
        progress.advance(50)
        progress.advance(50)
        progress.stage("statistics")
        progress.stage("writing")
    assert [r.getMessage() for r in caplog.records] == ["[B] statistics", "[B] writing"]


def test_progress__bar_mode_counts_episodes_and_leaves_no_log_lines(caplog):
    caplog.set_level(logging.INFO, logger="hbbatch.campaign.progress")
    with Progress("B", 10, mode="bar") as progress:
        progress.advance(4)
        progress.advance(6)
        progress.stage("statistics")
        assert progress._bar.tasks[0].completed == 10 and progress._bar.tasks[0].description == "statistics"
    assert caplog.records == []


def test_progress__auto_is_a_bar_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert Progress("B", 1).mode == "log"
