"""Exact and numerical reference solutions used by examples, benchmarks and tests."""

from ._allen_cahn import (
    allen_cahn as allen_cahn,
    allen_cahn_grid as allen_cahn_grid,
)
from ._burgers import burgers as burgers, burgers_grid as burgers_grid

__all__ = ["allen_cahn", "allen_cahn_grid", "burgers", "burgers_grid"]
