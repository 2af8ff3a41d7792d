"""The pure JAX simulator: the bot's `policy` and `rails`, the one-episode `env` (step, execution), batched in
`rollout`. No Hydra, pandas or files here."""

from hbbatch.sim.rollout import SimResult, compiled_batch, simulate
from hbbatch.sim.params import ParamsError, make_params, regime_weights
from hbbatch.sim.types import OWNERS, REGIMES, RULES, Action, Observation, RolloutSpec, SimParams
from hbbatch.sim.metrics import METRICS, RULE_METRICS

__all__ = ["METRICS", "Action", "Observation", "OWNERS", "REGIMES", "RULES", "RULE_METRICS", "ParamsError", "RolloutSpec", "SimParams",
           "SimResult", "compiled_batch", "make_params", "regime_weights", "simulate"]
