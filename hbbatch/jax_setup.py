"""What the command line sets up for JAX before JAX is imported (the simulator itself sets nothing).

- One XLA CPU device per core: one device runs this workload on about one core, so the rollout splits
  its episodes over as many devices as the process may use (`xla_force_host_platform_device_count`).
- 64-bit floats available to the whole task (`JAX_ENABLE_X64`), as before: shadow mode replays real
  bars in float64. The simulator's float32 arrays stay float32 either way.
- On a CPU with AVX-512, 512-bit vectors (`--xla_cpu_prefer_vector_width=512`; XLA prefers 256):
  +16 % episode-steps per CPU-second for the rollout here (bench/README.md), same numbers.
- Copy insertion by region analysis (`--xla_cpu_copy_insertion_use_region_analysis=true`): three of the
  step loop's copies of carried arrays go, +2.3 % per CPU-second, bit-identical (bench/README.md).

JAX reads both when it is imported, so `configure` acts only before that; launcher workers
(joblib, submitit, a local Ray) inherit the environment. A value the user set wins.
"""

from __future__ import annotations

import os
import sys

DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"
# Episodes per call of the compiled batch when a job streams its episodes (hbbatch.sim.rollout): host memory
# for one batch's tables is about 2 KB per episode, so these stay near 0.5 GB (CPU) while keeping every
# device busy (an accelerator's lanes want millions). Defined here, JAX-free, for the estimate at start-up.
BATCH_EPISODES = {"cpu": 1 << 18, "accelerator": 1 << 21}
VECTOR_WIDTH_FLAG = "--xla_cpu_prefer_vector_width"
COPY_INSERTION_FLAG = "--xla_cpu_copy_insertion_use_region_analysis"


def has_avx512(cpuinfo: str = "/proc/cpuinfo") -> bool:
    try:
        with open(cpuinfo) as handle:
            return any(line.startswith("flags") and " avx512f" in line for line in handle)
    except OSError:
        return False


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask: a SLURM allocation or taskset), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def xla_flags(existing: str, cores: int, avx512: bool) -> str:
    """`existing` XLA_FLAGS plus one CPU device per core, the vector width and region-analysis copy
    insertion, each unless already set."""
    flags = existing.split()
    if not any(flag.startswith(DEVICE_COUNT_FLAG) for flag in flags):
        flags.append(f"{DEVICE_COUNT_FLAG}={cores}")
    if avx512 and not any(flag.startswith(VECTOR_WIDTH_FLAG) for flag in flags):
        flags.append(f"{VECTOR_WIDTH_FLAG}=512")
    if not any(flag.startswith(COPY_INSERTION_FLAG) for flag in flags):
        flags.append(f"{COPY_INSERTION_FLAG}=true")
    return " ".join(flags)


def configure(environ: dict[str, str] | None = None) -> bool:
    """Set the variables above in `environ` (default os.environ); False when JAX was already imported
    in this process (then they would have no effect and nothing is changed)."""
    environ = os.environ if environ is None else environ
    if environ is os.environ and "jax" in sys.modules:
        return False
    environ["XLA_FLAGS"] = xla_flags(environ.get("XLA_FLAGS", ""), usable_cores(), has_avx512())
    environ.setdefault("JAX_ENABLE_X64", "1")
    return True
