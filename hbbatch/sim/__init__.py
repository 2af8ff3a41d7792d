"""The pure JAX simulator: one-episode `step`, batched in `rollout`. No Hydra, pandas or files here."""

from hbbatch.sim.rollout import SimResult, compiled_batch, simulate  # noqa: F401  (sets XLA flags first)
from hbbatch.sim.params import ParamsError, make_params, regime_weights  # noqa: F401
from hbbatch.sim.types import OWNERS, REGIMES, RULES, RolloutSpec, SimParams  # noqa: F401
from hbbatch.sim.metrics import METRICS, RULE_METRICS  # noqa: F401
