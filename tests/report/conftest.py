"""Hand-made job folders, as campaign jobs write them, for testing what runs after the jobs."""

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from hbbatch.config import CONF_DIR, register_configs
from hbbatch.config.schema import CriteriaConf, PathsConf, ReportConf, StatsConf
from hbbatch import io as hbio
from hbbatch.report.summary import summarize

REGIMES = np.array(["mean_revert", "jumpy", "trend_up"])


def episodes_frame(n=400, shift_usd=0.0, widens_per_action=0.15, actions_mean=4.0, gas_per_action=5.0, seed=42):
    """Episodes on common market noise (fixed rng), a variant differing by `shift_usd` per episode."""
    market = np.random.default_rng(0)
    regime = REGIMES[market.integers(0, 3, n)]
    base_pnl = market.normal(300.0, 400.0, n)
    own = np.random.default_rng(abs(int(shift_usd * 10)) + 1)
    actions = own.poisson(actions_mean, n)
    widens = own.binomial(actions, widens_per_action)
    return pd.DataFrame({"seed": seed, "episode": np.arange(n), "regime": regime,
                         "net_pnl_usd": base_pnl + shift_usd + own.normal(0, 20, n),
                         "return": (base_pnl + shift_usd) / 1e5, "gas_usd": actions * gas_per_action,
                         "actions": actions, "widens": widens, "fees_usd": 1000.0, "pnl_vs_hodl_usd": 0.0,
                         "time_in_range": 0.9, "max_drawdown": 0.02})


def rules_frame(episodes, edge_pnl_usd=5.0):
    n = len(episodes)
    return pd.DataFrame({"episode": np.repeat(episodes["episode"], 3), "rule": ["initial", "edge", "vol_spike_widen"] * n,
                         "fires": 1, "actions": np.column_stack([np.zeros(n, int), episodes["actions"] - episodes["widens"],
                                                                 episodes["widens"]]).ravel(),
                         "gas_usd": 0.0, "attributed_pnl_usd": np.tile([100.0, edge_pnl_usd, 1.0], n)})


@pytest.fixture
def make_job():
    def make(run_dir, num, campaign, overrides, episodes=None, rules=None, status="success", max_actions=120,
             extra=None):
        job_dir = run_dir / f"{num}_{campaign}"
        (job_dir / ".hydra").mkdir(parents=True)
        record = {"campaign": campaign, "job_num": num, "overrides": overrides, "status": status,
                  "message": "boom: simulator exploded" if status == "error" else "ok",
                  "timing": [], "execution_time": 1.0, **(extra or {})}
        if status == "success":
            rules = rules_frame(episodes) if rules is None else rules
            hbio.write_parquet(job_dir / "episodes.parquet", episodes)
            record["summary"] = summarize(episodes, rules, rails={"max_actions": max_actions, "max_actions_episodes": 10},
                                          confidence=0.95, n_bootstrap=500, seed=1, label=campaign)
        if status != "killed":
            hbio.write_json(job_dir / "summary.json", record)
        return job_dir
    return make


@pytest.fixture
def run_config():
    """The post-processing sections of the real config (conf/criteria/roadmap.yaml on the schema)."""
    register_configs()

    def config(criteria="roadmap", **criteria_overrides):
        crit = OmegaConf.merge(OmegaConf.structured(CriteriaConf), OmegaConf.load(CONF_DIR / "criteria" / f"{criteria}.yaml"),
                               criteria_overrides)
        paths = OmegaConf.merge(OmegaConf.structured(PathsConf), OmegaConf.load(CONF_DIR / "paths" / "default.yaml"))
        return {"experiment_name": "test", "criteria": OmegaConf.to_container(crit),
                "stats": OmegaConf.to_container(OmegaConf.structured(StatsConf)) | {"n_bootstrap": 500},
                "paths": OmegaConf.to_container(paths, resolve=True),
                "report": OmegaConf.to_container(OmegaConf.structured(ReportConf))}
    return config
