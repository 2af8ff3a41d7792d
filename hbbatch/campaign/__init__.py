"""One campaign job: config -> simulator -> per-episode and per-rule tables -> artifacts."""
