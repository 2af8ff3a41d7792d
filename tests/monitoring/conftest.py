"""The shadow tests' fixtures, for the monitoring of a shadow run."""

from tests.shadow.conftest import memory_dir  # noqa: F401
