"""Loss builders: residual and condition terms, and their weighted combination."""

from ._combine import (
    CompositeLoss as CompositeLoss,
    combine as combine,
    weighted_sum as weighted_sum,
)
from ._terms import (
    data as data,
    dirichlet as dirichlet,
    initial as initial,
    mean_squared as mean_squared,
    neumann as neumann,
    periodic as periodic,
    residual as residual,
)
