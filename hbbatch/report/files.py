"""The artifact contract's file names (design.md, Artifacts): one place for the job that writes them and
the run that reads them."""

# per job
MANIFEST, SUMMARY = "manifest.json", "summary.json"
EPISODES, RULES = "episodes.parquet", "rules.parquet"
RULE_VALUES = "rule_values.parquet"   # counterfactual rule values (per job, and the run's: hbbatch.report.rule_values)
