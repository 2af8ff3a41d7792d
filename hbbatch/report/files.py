"""The artifact contract's file names (design.md, Artifacts): one place for the job that writes them and
the run that reads them."""

# per job
MANIFEST, SUMMARY = "manifest.json", "summary.json"
EPISODES, RULES = "episodes.parquet", "rules.parquet"
