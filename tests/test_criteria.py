"""Success criteria: every committed suite loads strictly, parameters bind from config, misses say by how much."""

import json
from dataclasses import asdict

import pandas as pd
import pytest

from hbbatch.config import CONF_DIR
from hbbatch.config.schema import ThresholdsConf
from hbbatch.criteria import ERROR, FAIL, PASS, WARN, bind_parameters, criteria_tables, gas_per_gain, run_check
from hbbatch.report.multirun import exit_status
from hbbatch.quality import EXPECTATIONS_DIR, SuiteError, read_suite_json

SUITES = sorted((EXPECTATIONS_DIR / "success").glob("*.json"))
PARAMETERS = {**asdict(ThresholdsConf()), "max_actions": 120}


def test_suites__every_check_in_conf_names_a_committed_suite():
    import yaml

    for path in (CONF_DIR / "criteria").glob("*.yaml"):
        for name, check in yaml.safe_load(path.read_text())["checks"].items():
            assert (EXPECTATIONS_DIR / "success" / f"{check['suite']}.json").is_file(), (path.name, name)


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suites__load_strictly_with_every_parameter_bound(path):
    import great_expectations as gx

    from hbbatch.quality import _build_suite

    suite_json = bind_parameters(read_suite_json(path), PARAMETERS, path)
    assert "$PARAMETER" not in json.dumps(suite_json)
    suite = _build_suite(gx, suite_json, path)
    assert len(suite.expectations) == len(suite_json["expectations"]) > 0


def test_bind_parameters__unknown_parameter_is_a_one_line_error(tmp_path):
    suite = {"name": "s", "expectations": [{"type": "expect_column_max_to_be_between",
                                            "kwargs": {"column": "x", "max_value": {"$PARAMETER": "nope"}}}]}
    with pytest.raises(SuiteError, match="parameter 'nope' has no value; add criteria.thresholds.nope"):
        bind_parameters(suite, PARAMETERS, tmp_path / "s.json")


def _comparison(boot_low, t_low, regime="all"):
    return pd.DataFrame({"variant": "C", "baseline": "A", "metric": ["net_pnl_usd", "gas_usd"],
                         "regime": regime, "boot_low": [boot_low, -99.0], "t_low": [t_low, -99.0],
                         "n_pairs": [900, 900]})


def test_run_check__pnl_improvement_reads_only_the_net_pnl_overall_row():
    check = {"suite": "net_pnl_improvement", "table": "comparison"}
    ok = run_check("net_pnl_improvement", check, "C", "A", {"comparison": _comparison(12.0, 11.0)}, PARAMETERS,
                   EXPECTATIONS_DIR)
    assert ok.status == PASS, ok.message
    bad = run_check("net_pnl_improvement", check, "C", "A", {"comparison": _comparison(-7.5, 3.0)}, PARAMETERS,
                    EXPECTATIONS_DIR)
    assert bad.status == FAIL
    assert "bootstrap CI lower bound [USD] = -7.5, needs > 0 (short by 7.5)" in bad.message
    assert "t CI lower bound" not in bad.message     # the t bound passed


def test_run_check__severity_warn_reports_a_miss_without_failing_the_run():
    check = {"suite": "net_pnl_improvement", "table": "comparison", "severity": "warn"}
    warned = run_check("net_pnl_improvement", check, "C", "A", {"comparison": _comparison(-7.5, 3.0)}, PARAMETERS,
                       EXPECTATIONS_DIR)
    assert warned.status == WARN and "short by 7.5" in warned.message
    assert exit_status([], [PASS, WARN], fail_on_violation=True) == 0
    assert exit_status([], [WARN, FAIL], fail_on_violation=True) == 1
    bad = run_check("net_pnl_improvement", {**check, "severity": "loud"}, "C", "A",
                    {"comparison": _comparison(1.0, 1.0)}, PARAMETERS, EXPECTATIONS_DIR)
    assert bad.status == ERROR and "severity" in bad.message


def test_run_check__mean_revert_suite_ignores_other_regimes():
    check = {"suite": "mean_revert_net_pnl_improvement", "table": "comparison"}
    table = pd.concat([_comparison(-50.0, -50.0, "all"), _comparison(5.0, 4.0, "mean_revert")])
    assert run_check("mr", check, "C", "A", {"comparison": table}, PARAMETERS, EXPECTATIONS_DIR).status == PASS


def test_run_check__a_misspelt_expectation_is_an_error_not_a_silent_pass(tmp_path):
    (tmp_path / "success").mkdir()
    (tmp_path / "success" / "typo.json").write_text(json.dumps({"name": "typo", "expectations": [
        {"type": "expect_column_max_to_be_betwen", "kwargs": {"column": "widen_share", "max_value": 0.2}}]}))
    result = run_check("typo", {"suite": "typo", "table": "summary"}, "B", "A",
                       {"summary": pd.DataFrame({"widen_share": [0.9]})}, PARAMETERS, tmp_path)
    assert result.status == ERROR and "typo.json" in result.message


def test_criteria_tables__ratios_and_new_bad_rules_against_the_baseline():
    variants = pd.DataFrame({"variant": ["A", "B"], "gas_per_episode_usd": [10.0, 12.0],
                             "widens_per_episode": [1.0, 0.5]})
    rules = {"A": pd.DataFrame({"rule": ["edge", "trend_shift"], "action_share": [0.5, 0.5], "bad": [True, False]}),
             "B": pd.DataFrame({"rule": ["edge", "trend_shift"], "action_share": [0.7, 0.3], "bad": [True, True]})}
    tables = criteria_tables("B", "A", _comparison(1, 1).assign(variant="B"), variants, rules)
    assert tables["summary"].loc[0, "gas_ratio_vs_baseline"] == pytest.approx(1.2)
    assert tables["summary"].loc[0, "widens_ratio_vs_baseline"] == pytest.approx(0.5)
    # edge was already bad in the baseline: only trend_shift is a new bad rule
    assert list(tables["rules"]["new_bad_action_share"]) == [0.0, 0.3]
    assert len(tables["comparison"]) == 2


def test_gas_per_gain__extra_gas_is_weighed_against_the_net_pnl_it_buys():
    # within the ratio tolerance there is no extra gas to weigh, whatever the gain
    assert gas_per_gain(1.05, 0.5, -100.0, gas_ratio_max=1.10) == 0.0
    # the narrowing experiment's case: gas x1.29 (+$1.35 an episode) buys +$550: $0.0025 per dollar
    assert gas_per_gain(1.29, 1.35, 550.0, gas_ratio_max=1.10) == pytest.approx(1.35 / 550.0)
    assert gas_per_gain(1.5, 5.0, 2.0, gas_ratio_max=1.10) == pytest.approx(2.5)
    assert gas_per_gain(1.5, 5.0, -1.0, gas_ratio_max=1.10) == float("inf")     # extra gas, no gain


@pytest.mark.parametrize("suite", ["gas_controlled", "no_spike"])
def test_gas_suites__pass_bought_gas_and_fail_unbought_gas_and_a_broken_hard_cap(suite):
    check = {"suite": suite, "table": "summary"}

    def summary(per_gain, max_actions_per_window=10):
        return {"summary": pd.DataFrame({"gas_per_gain": [per_gain], "widens_ratio_vs_baseline": [1.0],
                                         "max_actions_per_window": [max_actions_per_window]})}

    assert run_check(suite, check, "C", "A", summary(0.0025), PARAMETERS, EXPECTATIONS_DIR).status == PASS
    bad = run_check(suite, check, "C", "A", summary(2.5), PARAMETERS, EXPECTATIONS_DIR)
    assert bad.status == FAIL and "= 2.5, needs <= 0.5 (over by 2)" in bad.message
    capped = run_check(suite, check, "C", "A", summary(0.0, max_actions_per_window=121), PARAMETERS, EXPECTATIONS_DIR)
    assert capped.status == FAIL and "hard cap" in capped.message


def test_criteria_tables__paired_extra_gas_and_gain_per_week():
    variants = pd.DataFrame({"variant": ["A", "C"], "gas_per_episode_usd": [10.0, 20.0], "widens_per_episode": [1.0, 1.0],
                             "weeks_per_episode": [0.5, 0.5]})
    comparison = pd.DataFrame({"variant": "C", "baseline": "A", "metric": ["net_pnl_usd", "gas_usd"], "regime": "all",
                               "mean_diff": [40.0, 10.0]})
    rules = {k: pd.DataFrame({"rule": ["edge"], "action_share": [1.0], "bad": [False]}) for k in "AC"}
    summary = criteria_tables("C", "A", comparison, variants, rules)["summary"].iloc[0]
    assert (summary.extra_gas_usd_per_week, summary.net_pnl_gain_usd_per_week) == (20.0, 80.0)
    assert summary.gas_per_gain == pytest.approx(0.25)
