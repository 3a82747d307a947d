"""Differential operators on point functions (forward-mode AD, fused for MLPs)."""

from ._operators import (
    divergence as divergence,
    gradient as gradient,
    hessian as hessian,
    jacobian as jacobian,
    laplacian as laplacian,
    partial as partial,
)
from ._partials import partials as partials
