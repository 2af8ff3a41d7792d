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


def test_progress__the_bar_shows_its_label_even_when_it_is_a_style_name():
    """A single run's label is "default", which rich's markup would take for a style and drop."""
    import io

    for label in ("default", "red", "B"):
        with Progress(label, 10, mode="bar") as progress:
            progress._bar.console.file = io.StringIO()
            progress.advance(10)
            text = "".join(segment.text for segment in progress._bar.console.render(progress._bar.get_renderable()))
        assert text.startswith(f"[{label}] simulating"), text
