"""Per-episode tables on disk: streamed to Parquet in fixed row groups, read back whole or as a sample.

A campaign of 10 M episodes does not fit in memory as one DataFrame (episodes.parquet alone is about
2 GB in pandas, rules.parquet eight times as many rows). The job therefore appends each simulated batch
to the files as it comes (`write_streamed`), and statistics read at most a bounded number of episodes
back (`read_episodes`). Row groups hold exactly ROW_GROUP_ROWS rows whatever the batches were, so the
same rows give byte-identical files: a campaign run in shards and merged equals the unsharded run.

The sample is a stride over episode indices (every k-th episode, k = ceil(n / max_rows)): episodes are
independent draws, so a stride is a uniform sample, and every variant of a campaign samples the same
indices, so paired comparisons stay paired.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hbbatch.io import atomic_write

ROW_GROUP_ROWS = 1 << 16


class _RowGroupWriter:
    """Appends tables to one Parquet file, cut into row groups of exactly `rows_per_group` rows."""

    def __init__(self, path: Path, rows_per_group: int) -> None:
        self.path, self.rows_per_group = path, rows_per_group
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rows = 0

    def append(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.schema is None:
            self.schema = table.schema
        else:
            table = table.cast(self.schema)
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.rows += table.num_rows
        while self.pending_rows >= self.rows_per_group:
            self._flush(self.rows_per_group)

    def _flush(self, rows: int) -> None:
        buffered = pa.concat_tables(self.pending)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(buffered.slice(0, rows), row_group_size=rows)
        rest = buffered.slice(rows)
        self.pending, self.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self) -> None:
        if self.schema is None:
            raise ValueError(f"{self.path.name}: no rows to write")
        if self.pending_rows:
            self._flush(self.pending_rows)
        if self.writer is None:   # every batch was empty: a file with the schema and no rows
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.close()


def write_streamed(paths: Mapping[str, Path | str], batches: Iterable[Mapping[str, pd.DataFrame]],
                   rows_per_group: int = ROW_GROUP_ROWS) -> dict[str, int]:
    """Write each batch's frames (keyed as `paths`) to their files; returns rows written per key.

    Each file is written to a temporary name and renamed when every batch is in (the atomic writer),
    so an interrupted run leaves no table at all rather than a short one.
    """
    keys = list(paths)
    rows: dict[str, int] = {}

    def write_all(temporary: dict[str, Path]) -> None:
        writers = {key: _RowGroupWriter(temporary[key], rows_per_group) for key in keys}
        for batch in batches:
            for key in keys:
                writers[key].append(batch[key])
        for key, writer in writers.items():
            writer.close()
            rows[key] = writer.rows

    def nest(index: int, temporary: dict[str, Path]) -> None:
        if index == len(keys):
            write_all(temporary)
            return
        key = keys[index]
        atomic_write(paths[key], lambda tmp: nest(index + 1, {**temporary, key: tmp}))

    nest(0, {})
    return rows


def iter_frames(path: Path | str, columns: list[str] | None = None) -> Iterable[pd.DataFrame]:
    """A table's row groups one at a time (bounded memory)."""
    handle = pq.ParquetFile(path)
    for index in range(handle.num_row_groups):
        yield handle.read_row_group(index, columns=columns).to_pandas()


def row_count(path: Path | str) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def sample_stride(n_rows: int, max_rows: int | None) -> int:
    """Every how many episodes the statistics keep one: 1 (all) up to max_rows episodes."""
    if max_rows is None or n_rows <= max_rows:
        return 1
    return math.ceil(n_rows / max(int(max_rows), 1))


def read_episodes(path: Path | str, columns: list[str] | None = None, max_rows: int | None = None,
                  key: str = "episode") -> pd.DataFrame:
    """The table, or its stride sample over `key` (episode index) when it has more than max_rows rows."""
    stride = sample_stride(row_count(path), max_rows)
    if stride == 1:
        return pd.read_parquet(path, columns=columns)
    wanted = None if columns is None else list(dict.fromkeys([*columns, key]))
    parts = [frame[frame[key].to_numpy() % stride == 0] for frame in iter_frames(path, wanted)]
    sample = pd.concat(parts, ignore_index=True)
    return sample if columns is None or key in columns else sample.drop(columns=[key])

