"""Differential operators on point functions (forward-mode AD, fused for MLPs)."""

from ._operators import (
    divergence as divergence,
)
from ._operators import (
    gradient as gradient,
)
from ._operators import (
    hessian as hessian,
)
from ._operators import (
    jacobian as jacobian,
)
from ._operators import (
    laplacian as laplacian,
)
from ._operators import (
    partial as partial,
)
from ._partials import partials as partials
