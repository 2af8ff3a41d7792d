"""What a run leaves behind: per-job artifacts, the multirun's comparison, criteria and run_results,
report.html and the final table. Every file is written atomically (hbbatch.io)."""
