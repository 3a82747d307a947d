"""Exact and numerical reference solutions used by examples, benchmarks and tests."""

from ._burgers import burgers as burgers, burgers_grid as burgers_grid

__all__ = ["burgers", "burgers_grid"]
