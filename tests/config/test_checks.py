"""Every impossible input is refused at compose time, one line naming the key and the accepted range.

The table below is the list of refused inputs: each row is an override a user could type, and the key
the refusal must name. The defaults of every group and experiment must pass the same checks.
"""

import dataclasses
import math

import pytest

from hbbatch.config import CONF_DIR
from hbbatch.config.bounds import Bounds, bounded, one_of
from hbbatch.config.callback import BASIC_SWEEPER, check_job_config, sweep_job_overrides
from hbbatch.config.checks import ConfigValueError, check_config, problems, unbounded_numbers

# (overrides, the key the one-line message must name)
REFUSED = [
    # numbers that are NaN, infinite or impossible (the list first)
    (["agent.rails.max_drawdown=nan"], "agent.rails.max_drawdown"),
    (["regime_mix.jumpy=nan"], "regime_mix.jumpy"),
    (["agent.gas_usd=inf"], "agent.gas_usd"),
    (["agent.gas_usd=nan"], "agent.gas_usd"),
    (["agent.gas_usd=-inf"], "agent.gas_usd"),
    (["market.fee_rate=2"], "market.fee_rate"),
    (["market.fee_rate=-0.001"], "market.fee_rate"),
    (["agent.capital_usd=-1000"], "agent.capital_usd"),
    (["agent.capital_usd=0"], "agent.capital_usd"),
    (["agent.fee_gate_usd=-5"], "agent.fee_gate_usd"),
    (["market.pool_liquidity=inf"], "market.pool_liquidity"),
    (["market.pool_liquidity=0"], "market.pool_liquidity"),
    (["task=calibrate", "calibration.window_days=0"], "calibration.window_days"),
    (["seed=-1"], "seed"),
    (["seed=9223372036854775808"], "seed"),          # 2^63
    (["market.step_minutes=0"], "market.step_minutes"),
    (["market.step_minutes=-1"], "market.step_minutes"),
    (["floors.mean_revert=0"], "floors.mean_revert"),
    (["floors.jumpy=-1400"], "floors.jumpy"),
    (["floors.trend_up=nan"], "floors.trend_up"),
    (["market.vol_annual.jumpy=0"], "market.vol_annual.jumpy"),
    (["market.vol_annual.trend_up=inf"], "market.vol_annual.trend_up"),
    (["market.jump_size_std.jumpy=-0.01"], "market.jump_size_std.jumpy"),
    (["market.drift_annual.trend_up=nan"], "market.drift_annual.trend_up"),
    (["market.tick_spacing=0"], "market.tick_spacing"),
    (["market.gas_usd_median=-1"], "market.gas_usd_median"),
    (["market.gas_spell_multiplier=0.5"], "market.gas_spell_multiplier"),
    (["market.volume_vol_share=1.5"], "market.volume_vol_share"),
    (["regime_mix.mean_revert=-0.1"], "regime_mix.mean_revert"),
    (["regime_mix.trend_up=1.5"], "regime_mix.trend_up"),
    (["agent.rails.max_drawdown=0"], "agent.rails.max_drawdown"),
    (["agent.rails.max_drawdown=1.5"], "agent.rails.max_drawdown"),
    (["agent.rails.max_pool_share=0"], "agent.rails.max_pool_share"),
    (["agent.rails.max_actions=-1"], "agent.rails.max_actions"),
    (["agent.rails.max_actions_episodes=0"], "agent.rails.max_actions_episodes"),
    (["agent.rails.gas_cap_usd_per_window=nan"], "agent.rails.gas_cap_usd_per_window"),
    (["agent.rules.widen_factor=0.5"], "agent.rules.widen_factor"),
    (["agent.rules.edge_fraction=0.5"], "agent.rules.edge_fraction"),
    (["agent.rules.cooldown_minutes=-1"], "agent.rules.cooldown_minutes"),
    (["agent.ev_horizon_minutes=0"], "agent.ev_horizon_minutes"),
    (["n_episodes=0"], "n_episodes"),
    (["n_episodes=10000001"], "n_episodes"),
    (["n_steps=0"], "n_steps"),
    (["stats.confidence=1"], "stats.confidence"),
    (["stats.n_bootstrap=0"], "stats.n_bootstrap"),
    (["stats.bootstrap_seed=-5"], "stats.bootstrap_seed"),
    (["criteria.thresholds.widen_share_max=nan"], "criteria.thresholds.widen_share_max"),
    (["calibration.fee_gate_multiple=-1"], "calibration.fee_gate_multiple"),
    (["calibration.dune.page_size=0"], "calibration.dune.page_size"),
    (["calibration.dune.request_timeout_s=0"], "calibration.dune.request_timeout_s"),
    (["calibration.dune.retries=-1"], "calibration.dune.retries"),
    (["planner.budget_credits_per_day=-1"], "planner.budget_credits_per_day"),
    (["planner.refresh_s.P1=-1"], "planner.refresh_s.P1"),
    (["planner.timeline.days=0"], "planner.timeline.days"),
    (["planner.timeline.seed=-1"], "planner.timeline.seed"),
    (["planner.signals.drawdown=nan"], "planner.signals.drawdown"),
    (["+calibration.parameters.lookback_days=nan"], "calibration.parameters.lookback_days"),
    (["calibration.dune.retry_after_max_s=-1"], "calibration.dune.retry_after_max_s"),
    (["task=shadow", "shadow.pool=notanaddress"], "shadow.pool"),
    (["task=shadow", "shadow.pool=0x88e6a0c2ddd26feeb64f039a2c41296fcb3f564"], "shadow.pool"),   # 39 hex digits
    (["agent.rails.max_pool_share=1"], "agent.rails.max_pool_share"),   # the simulator needs a share below 1
    # numbers valid one by one that cannot run together
    (["regime_mix.jumpy=0.9"], "regime_mix"),                         # shares summing to 1.6
    (["regime_mix.mean_revert=0", "regime_mix.jumpy=0", "regime_mix.trend_up=0"], "regime_mix"),
    (["market.garch_alpha=0.5", "market.garch_beta=0.6"], "market.garch_alpha + market.garch_beta"),
    (["agent.rails.max_actions=5"], "agent.rails.max_actions"),      # 5 // 10 episodes: no action an episode
    (["agent.rails.max_actions=0"], "agent.rails.max_actions"),
    (["criteria.thresholds.widen_share_min=0.5"], "criteria.thresholds.widen_share_min"),   # above the max
    # enums
    (["gating.mode=maybe"], "gating.mode"),
    (["dtype=float16"], "dtype"),
    (["task=dance"], "task"),
    (["calibration.source=dune2"], "calibration.source"),
    (["agent.rails.override=panic"], "agent.rails.override"),
    (["agent.classifier=psychic"], "agent.classifier"),
    (["calibration.dune.performance=huge"], "calibration.dune.performance"),
    (["planner.mode=fast"], "planner.mode"),
    (["planner.normal.max_priority=P9"], "planner.normal.max_priority"),
    (["planner.signals.gas_regime=extreme"], "planner.signals.gas_regime"),
    (["planner.timeline.modes=[normal,turbo]"], "planner.timeline.modes[1]"),
    (["criteria.checks.gas_controlled.severity=fatal"], "criteria.checks.gas_controlled.severity"),
    # appended keys the schema does not have (OmegaConf lets an explicit + through)
    (["+n_episode=10"], "n_episode"),
    (["+agent.gas=3"], "agent.gas"),
    (["+market.vol_annual.sideways=0.5"], "market.vol_annual.sideways"),
    (["+agent.rules.extra_rule=1"], "agent.rules.extra_rule"),
    # names and folders that would escape the outputs
    (["experiment_name=../../../escaped"], "experiment_name"),
    (["experiment_name=a/b"], "experiment_name"),
    (["experiment_name=.."], "experiment_name"),
    (["paths.output_dir=../outside"], "paths.output_dir"),
    (["calibration.dune.cache_dir=outputs/../../x"], "calibration.dune.cache_dir"),
]


@pytest.mark.parametrize("overrides, key", REFUSED, ids=[" ".join(o) for o, _ in REFUSED])
def test_refused__at_compose_time_with_one_line_naming_the_key(compose_cfg, overrides, key):
    cfg = compose_cfg(overrides)
    with pytest.raises(ConfigValueError) as info:
        check_job_config(cfg)
    message = str(info.value)
    assert message.startswith(key) and "\n" not in message, message
    assert "use " in message or "did you mean" in message or "keys here" in message   # says the fix


EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
GROUP_CHOICES = [[f"{group.name}={option.stem}"] for group in sorted(CONF_DIR.iterdir())
                 if group.is_dir() and group.name not in ("hydra", "experiment")
                 for option in sorted(group.glob("*.yaml"))]


@pytest.mark.parametrize("overrides", [[]] + GROUP_CHOICES, ids=lambda o: " ".join(o) or "defaults")
def test_accepted__every_group_option_passes_the_checks(compose_cfg, overrides):
    check_job_config(compose_cfg(overrides))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_accepted__every_job_of_every_experiment_passes_the_checks(compose_cfg, experiment):
    primary = compose_cfg([f"+experiment={experiment}"])
    check_job_config(primary)
    if primary.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return   # Optuna picks its values as it runs: each trial checks its own config when it starts
    jobs = sweep_job_overrides(primary)
    assert jobs
    for job in jobs:
        check_job_config(compose_cfg(job))   # a job's overrides include +experiment


def test_accepted__edges_of_ranges_and_large_seeds(compose_cfg):
    check_job_config(compose_cfg(["seed=0", "agent.gas_usd=0", "agent.rails.max_drawdown=1",
                                  "seed=9223372036854775807", "market.drift_annual.trend_up=-3",
                                  "paths.output_dir=/tmp/somewhere", "+calibration.parameters.pool=0xabc"]))


def test_schema__every_numeric_key_declares_its_bounds():
    assert unbounded_numbers() == []


def test_unbounded_numbers__finds_a_number_without_bounds():
    @dataclasses.dataclass
    class Inner:
        a: float = 1.0

    @dataclasses.dataclass
    class Outer:
        x: int = bounded(1, ge=0)
        y: float = 2.0
        inner: Inner = dataclasses.field(default_factory=Inner)
        bounded_inner: Inner = bounded(factory=Inner, ge=0)

    assert unbounded_numbers(Outer) == ["y", "inner.a"]


def test_problems__lists_every_refused_value_and_check_config_names_the_first():
    @dataclasses.dataclass
    class Small:
        share: float = bounded(0.5, ge=0, le=1)
        mode: str = one_of("a", ("a", "b"))

    bad = {"share": math.nan, "mode": "c", "extra": 1}
    assert len(problems(bad, Small)) == 3
    with pytest.raises(ConfigValueError, match=r"^extra: .*\(and 2 more refused value\(s\)\)$"):
        check_config(bad, Small)
    check_config({"share": 1.0, "mode": "b"}, Small)


@pytest.mark.parametrize("bounds, text", [
    (Bounds(gt=0, le=1), "(0, 1]"),
    (Bounds(ge=0, lt=2**63), "[0, 2^63)"),
    (Bounds(ge=0), ">= 0"),
    (Bounds(lt=0.5), "< 0.5"),
    (Bounds(choices=("ev", "off")), "one of ev, off"),
    (Bounds(address=True), "0x and 40 hex digits"),
])
def test_bounds__describe_the_range_in_interval_notation(bounds, text):
    assert bounds.describe() == text


def test_bounds__refuse_nan_and_infinities_even_without_a_range():
    unbounded = Bounds()
    assert unbounded.problem(math.nan) == "is not a number"
    assert unbounded.problem(-math.inf) == "is infinite"
    assert unbounded.problem(1e300) is None and unbounded.problem(True) is None and unbounded.problem(None) is None
