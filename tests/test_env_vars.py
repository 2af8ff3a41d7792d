"""The roadmap's environment variables: parsed, checked, mapped; every malformed value is one line naming it."""

import pytest

from hbbatch.env_vars import EnvVarError, calibration_path_from, overrides_from, parse_regime_mix


def test_parse_regime_mix__roadmap_values_in_any_order():
    assert parse_regime_mix("mean_revert:0.4,jumpy:0.3,trend_up:0.3") == {
        "mean_revert": 0.4, "jumpy": 0.3, "trend_up": 0.3}
    # the roadmap's calibrated mix, as published, sums to 0.99: accepted (renormalised where simulated)
    assert parse_regime_mix(" mean_revert:0.49, trend_up:0.36 ,jumpy:0.14") == {
        "mean_revert": 0.49, "jumpy": 0.14, "trend_up": 0.36}
    assert parse_regime_mix("trend_up:1") == {"mean_revert": 0.0, "jumpy": 0.0, "trend_up": 1.0}


@pytest.mark.parametrize("raw, problem", [
    ("mean_revert:0.4,jumpy:0.3,sideways:0.3", "unknown regime 'sideways'"),
    ("mean_revert:1.2,jumpy:-0.2", "must be a finite number >= 0"),
    ("mean_revert:0.4,jumpy:0.3,trend_up:0.2", "sum to 0.9000"),
    ("mean_revert=0.4,jumpy=0.6", "bad entry"),
    ("mean_revert:0.4;jumpy:0.6", "is not a number"),
    ("mean_revert:0.5,mean_revert:0.5", "given twice"),
    ("mean_revert:nan,jumpy:1", "finite number"),
    ("", "bad entry"),
])
def test_parse_regime_mix__malformed_values_fail_in_one_line_naming_the_variable(raw, problem):
    with pytest.raises(EnvVarError) as info:
        parse_regime_mix(raw)
    message = str(info.value)
    assert message.startswith("HB_REGIME_MIX=") and problem in message and "\n" not in message


def test_overrides_from__maps_seed_and_episode_count():
    env = {"HB_SEED": "7", "EPISODE_COUNT": "500"}
    assert overrides_from([], env) == ["seed=7", "n_episodes=500"]


def test_overrides_from__command_line_wins_over_the_variable():
    env = {"HB_SEED": "7", "EPISODE_COUNT": "500"}
    assert overrides_from(["seed=3", "+experiment=long_run", "-m"], env) == ["n_episodes=500"]


@pytest.mark.parametrize("env, name", [
    ({"HB_SEED": "forty-two"}, "HB_SEED"), ({"HB_SEED": "-1"}, "HB_SEED"),
    ({"EPISODE_COUNT": "0"}, "EPISODE_COUNT"), ({"EPISODE_COUNT": "5.5"}, "EPISODE_COUNT"),
    ({"HB_REGIME_MIX": "mean_revert:1,jumpy:1"}, "HB_REGIME_MIX"),
    ({"DUNE_CALIBRATION_JSON": "/nonexistent/calibration.json"}, "DUNE_CALIBRATION_JSON"),
])
def test_overrides_from__checks_every_variable_up_front(env, name):
    with pytest.raises(EnvVarError, match=f"^{name}="):
        overrides_from([], env)


def test_calibration_path_from__resolves_an_existing_file(tmp_path):
    report = tmp_path / "calibration.json"
    report.write_text("{}")
    assert calibration_path_from({"DUNE_CALIBRATION_JSON": str(report)}) == report.resolve()
    assert calibration_path_from({}) is None
