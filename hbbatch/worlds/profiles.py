"""Within-bar variance profiles from real finer bars: how a coarse bar's variance is laid out over its steps
(`hbbatch.sim.history.HistoryParams.within_bar_variance`).

    within_bar_variance(bar_minutes) -> Profiles(table, info) | None

A profile is one real window of `bar_minutes` (aligned to the UTC bar grid, as the coarse bars are) seen in
the embedded 5-minute bars (2022-08 -> 2025-04; hours: 24,067 profiles of 12 slots): each slot's Parkinson
variance, (ln H/L)^2 of the slot against the previous slot's close (so a gap at the slot's open counts),
over the window's sum. The table holds the cumulative shares, (n_profiles, S + 1), 0 first and 1 last. A
coarse bar draws one row at random (the counter hash, at its first step); within a slot its steps share
the slot's variance evenly. The shape is taken as the same in every year (shares are scale-free): the
hourly world's 2020-2022 hours borrow the shapes of 2022-2025.

Why the slots' ranges and not their squared returns: the simulator draws each step's move as a normal
with the profile's variance, so the profile must estimate the slot's variance, not be one realisation of
it; a squared return's sampling noise (a chi-square with one degree of freedom) would be counted twice.
The policy's own estimator (default thresholds; tests/worlds/test_profiles.py), on the 5-minute bars
2022-08 -> 2025-04 at 5-minute steps: the real closes give 2.08 vol-widen triggers a week and 6.1 % of
steps above the widen ratio; the same bars aggregated to hours and rebuilt by `history.move` (three seeds)
flat 2.71-2.77 and 7.6-7.8 %, with range profiles drawn from the other half of the dates 2.03-2.19 and
6.5-6.8 %; squared-return profiles would give 1.3 and 5.0 %. Drawing the profile from hours of a similar
character (the hour's range against its week's median, in quartiles) moves the triggers by -0.13, within
the real figure's own noise (about +-0.12 a week), so the draw is unconditional. At one-minute steps, on
the 1-minute month (2024-07-27 -> 08-25): minutes above 1.5, 5.7 % real, 6.7-7.2 % flat, 5.6-6.1 % with
profiles (four seeds; the month's 13 widen spells are too few to compare their count).

Why 5-minute slots only: 1-minute profiles (the one embedded month) laid over 5-minute bars make the
ratio quieter than the real 1-minute path (2.2 triggers a week against 2.9 real, 2.7 flat), so bars of 5
minutes or less are spread flat (recorded as such).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hbbatch.worlds import history


class Profiles(NamedTuple):
    table: np.ndarray            # (n_profiles, S + 1) float64 cumulative variance shares, 0 .. 1
    info: dict[str, Any]         # what the manifest records: source bars, slots, profiles, dates


def slot_profiles(frame: pd.DataFrame, fine_minutes: int, bar_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_windows, S) variance shares of the whole bar-grid windows of `frame` (fine bars: date, high, low,
    close) whose S slots and the bar before them are all present, and each window's open time (seconds)."""
    n_slots = bar_minutes // fine_minutes
    seconds = pd.DatetimeIndex(frame["date"]).as_unit("s").asi8
    window = seconds // (60 * bar_minutes)
    slot = (seconds % (60 * bar_minutes)) // (60 * fine_minutes)
    close, high, low = (frame[c].to_numpy(float) for c in ("close", "high", "low"))
    # a window's first fine bar, where its S bars follow one another and the fine bar before it exists
    first = np.flatnonzero(slot == 0)
    first = first[(first >= 1) & (first + n_slots <= len(frame))]
    rows = first[:, None] + np.arange(n_slots)
    whole = (window[rows] == window[first][:, None]).all(axis=1) & (slot[rows] == np.arange(n_slots)).all(axis=1)
    whole &= seconds[first - 1] == seconds[first] - 60 * fine_minutes
    rows, first = rows[whole], first[whole]
    previous = close[rows - 1]
    log_high = np.maximum(np.log(high[rows] / previous), np.log(close[rows] / previous).clip(min=0.0))
    log_low = np.minimum(np.log(low[rows] / previous), np.log(close[rows] / previous).clip(max=0.0))
    variance = (log_high - log_low) ** 2
    total = variance.sum(axis=1)
    keep = total > 0
    return variance[keep] / total[keep, None], seconds[first][keep]


def cumulative(shares: np.ndarray) -> np.ndarray:
    """Shares (n, S) -> the table's cumulative rows (n, S + 1), ending exactly on 1."""
    table = np.concatenate([np.zeros((len(shares), 1)), np.cumsum(shares, axis=1)], axis=1)
    table[:, -1] = 1.0
    return table


PROFILE_MINUTES = 5   # the slot: the embedded resolution whose profiles fit real data (module docstring)


@functools.lru_cache(maxsize=4)
def within_bar_variance(bar_minutes: int) -> Profiles | None:
    """Real 5-minute-slot profiles for bars of `bar_minutes`; None where 5-minute slots do not divide the
    bar into two or more (such bars are spread flat)."""
    if bar_minutes < 2 * PROFILE_MINUTES or bar_minutes % PROFILE_MINUTES:
        return None
    shares, opens = slot_profiles(history.bars(PROFILE_MINUTES), PROFILE_MINUTES, bar_minutes)
    if len(shares) == 0:
        return None
    dates = pd.to_datetime(opens[[0, -1]], unit="s", utc=True)
    info = {"kind": "profile", "source": history.bars_file(PROFILE_MINUTES).name, "slot_minutes": PROFILE_MINUTES,
            "slots": int(shares.shape[1]), "n_profiles": int(len(shares)), "first": str(dates[0]),
            "last": str(dates[1]),
            # concentration: 1 / slots for a flat bar
            "mean_herfindahl": round(float(np.mean(np.sum(shares**2, axis=1))), 4)}
    return Profiles(table=cumulative(shares), info=info)
