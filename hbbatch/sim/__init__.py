"""The pure JAX simulator: one-episode `step`, batched in `rollout`. No Hydra, pandas or files here."""

from hbbatch.sim.rollout import SimResult, compiled_batch, simulate
from hbbatch.sim.params import ParamsError, make_params, regime_weights
from hbbatch.sim.types import OWNERS, REGIMES, RULES, RolloutSpec, SimParams
from hbbatch.sim.metrics import METRICS, RULE_METRICS

__all__ = ["METRICS", "OWNERS", "REGIMES", "RULES", "RULE_METRICS", "ParamsError", "RolloutSpec", "SimParams",
           "SimResult", "compiled_batch", "make_params", "regime_weights", "simulate"]
