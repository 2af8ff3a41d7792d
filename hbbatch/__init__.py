"""hbbatch: declarative batch campaigns for a concentrated-liquidity LP agent."""

__version__ = "0.1.0"
