#!/usr/bin/env bash
# The roadmap's campaign runner, on hbbatch. Environment (all optional):
#   HB_CAMPAIGN=all|A|B|C   which campaign(s): all = the three-way comparison with its success criteria (default)
#   HB_EXPERIMENT=three_way the experiment HB_CAMPAIGN=all runs (three_way, long_run, narrowing)
#   HB_SEED=42              seed of every job (identical seeds across campaigns)
#   HB_REGIME_MIX="mean_revert:0.4,jumpy:0.3,trend_up:0.3"   regime mix of the world all campaigns run in
#   DUNE_CALIBRATION_JSON=/path/calibration.json             report of the calibrated campaign (C)
#   EPISODE_COUNT=500       episodes per campaign
# Extra arguments are passed on as Hydra overrides, e.g. ./run_aggressive_campaign.sh n_steps=1440
# Exit status: 0 ok, 1 a success criterion failed, 2 an error.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python}"

case "${HB_CAMPAIGN:-all}" in
  all)   args=("+experiment=${HB_EXPERIMENT:-three_way}" -m) ;;
  A|B|C) args=("campaign=${HB_CAMPAIGN}") ;;
  *)     echo "run_aggressive_campaign.sh: error: HB_CAMPAIGN='${HB_CAMPAIGN}': use A, B, C or all" >&2; exit 2 ;;
esac
exec "$PYTHON" -m hbbatch "${args[@]}" "$@"
