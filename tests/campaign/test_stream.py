"""hbbatch.campaign.stream: a job's tables read back in bounded memory."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hbbatch.campaign.stream import _most_actions_per_window


@pytest.mark.parametrize("window", [1, 3, 10, 1000])
def test_most_actions_per_window__row_group_by_row_group_equals_the_whole_table(tmp_path, window):
    rng = np.random.default_rng(7)
    actions = rng.integers(0, 30, size=997)
    path = tmp_path / "episodes.parquet"
    pq.write_table(pa.table({"episode": np.arange(997, dtype=np.int64), "actions": actions}), path, row_group_size=64)
    assert pq.ParquetFile(path).num_row_groups == 16
    # the oracle: every window of consecutive episodes summed directly (all of them when fewer ran)
    width = min(window, len(actions))
    expected = max(int(actions[i:i + width].sum()) for i in range(len(actions) - width + 1))
    assert _most_actions_per_window(path, window) == expected
    shuffled = tmp_path / "shuffled.parquet"   # row groups out of episode order: read whole, same answer
    order = rng.permutation(997)
    pq.write_table(pa.table({"episode": order.astype(np.int64), "actions": actions[order]}), shuffled,
                   row_group_size=64)
    assert _most_actions_per_window(shuffled, window) == expected
