"""Differential operators on point functions (forward-mode AD, fused Taylor streams).

A field opts into the fused path with a ``taylor_streams`` method built from the
blocks in ``pinnlib.diff.taylor``.
"""

from . import taylor as taylor
from ._grid import (
    finite_difference as finite_difference,
    spectral_derivative as spectral_derivative,
)
from ._operators import (
    divergence as divergence,
    gradient as gradient,
    hessian as hessian,
    jacobian as jacobian,
    laplacian as laplacian,
    partial as partial,
)
from ._partials import partials as partials
