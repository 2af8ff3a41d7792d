"""The atomic writers under their former name; they live in `hbbatch.io` (import them from there)."""

from hbbatch.io import atomic_write, read_json, write_bytes, write_json, write_parquet, write_text  # noqa: F401
