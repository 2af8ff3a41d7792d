"""report.html's figures drawn once per content: a kept PNG is the same bytes a fresh drawing gives, and any
change of what the figure shows, of matplotlib's rc files or of the kept file draws again."""

import base64

import numpy as np
import pytest

from hbbatch.report import figures
from hbbatch.report.html import _draw_intervals

SPEC = {"mean": np.array([1.5, -0.25, 3.0]), "low": np.array([0.5, -1.0, 2.0]), "high": np.array([2.5, 0.5, 4.0]),
        "color": "#16794b", "names": ["A | gate", "A | widen", "B | narrow"], "xlabel": "value [USD/episode]"}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "figures"
    monkeypatch.setenv(figures.CACHE_VAR, str(folder))
    monkeypatch.delenv("MATPLOTLIBRC", raising=False)
    monkeypatch.chdir(tmp_path)
    return folder


def counted():
    calls = []

    def draw(spec):
        calls.append(spec)
        return _draw_intervals(spec)
    return draw, calls


def png_of(img: str) -> bytes:
    return base64.b64decode(img.split("base64,")[1].split("'")[0])


def test_drawn__a_repeat_reads_back_the_same_bytes_a_fresh_drawing_gives(cache):
    draw, calls = counted()
    first = figures.drawn("intervals", SPEC, draw)
    again = figures.drawn("intervals", {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in SPEC.items()},
                          draw)
    assert len(calls) == 1 and again == first and len(list(cache.glob("*.png"))) == 1
    fresh = figures.png_bytes(_draw_intervals(SPEC))
    assert png_of(again) == fresh and fresh.startswith(figures.PNG_START)


@pytest.mark.parametrize("change", [
    lambda s: {**s, "mean": s["mean"] + np.array([0.0, np.spacing(-0.25), 0.0])},   # one value's last bit
    lambda s: {**s, "names": ["A | gate", "A | widen", "B | narrow2"]},
    lambda s: {**s, "mean": s["mean"].astype(np.float32)},
    lambda s: {**s, "color": "#1f5fa8"},
])
def test_drawn__any_change_of_what_it_shows_draws_again(cache, change):
    draw, calls = counted()
    figures.drawn("intervals", SPEC, draw)
    figures.drawn("intervals", change(SPEC), draw)
    assert len(calls) == 2 and len(list(cache.glob("*.png"))) == 2


def test_drawn__a_matplotlibrc_in_the_working_folder_or_a_code_change_draws_again(cache, tmp_path):
    draw, calls = counted()
    figures.drawn("intervals", SPEC, draw)
    (tmp_path / "matplotlibrc").write_text("lines.linewidth: 3\n")
    figures.drawn("intervals", SPEC, draw)
    other_code = tmp_path / "other_code.py"
    other_code.write_text("# another drawing\n")
    figures.drawn("intervals", SPEC, draw, (str(other_code),))
    assert len(calls) == 3


def test_drawn__a_damaged_entry_is_drawn_again_and_replaced(cache):
    draw, calls = counted()
    first = figures.drawn("intervals", SPEC, draw)
    (entry,) = cache.glob("*.png")
    entry.write_bytes(entry.read_bytes()[:-20])   # cut short
    assert figures.drawn("intervals", SPEC, draw) == first and len(calls) == 2
    assert entry.read_bytes() == png_of(first)


def test_drawn__empty_cache_variable_keeps_nothing_and_the_folder_keeps_the_newest(cache, tmp_path, monkeypatch):
    monkeypatch.setenv(figures.CACHE_VAR, "")
    draw, calls = counted()
    figures.drawn("intervals", SPEC, draw)
    figures.drawn("intervals", SPEC, draw)
    assert len(calls) == 2 and not cache.exists()
    monkeypatch.setenv(figures.CACHE_VAR, str(cache))
    monkeypatch.setattr(figures, "MAX_ENTRIES", 2)
    for i in range(4):
        figures.drawn("intervals", {**SPEC, "xlabel": f"value {i}"}, draw)
    assert len(list(cache.glob("*.png"))) == 2


def test_key_of__refuses_a_spec_it_cannot_key():
    with pytest.raises(TypeError, match="cannot key"):
        figures.key_of("x", {"f": object()}, ())
