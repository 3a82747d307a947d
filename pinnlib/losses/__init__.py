"""Loss builders: residual and condition terms, and their weighted combination."""

from ._causal import (
    CausalResidual as CausalResidual,
    balanced_tolerance as balanced_tolerance,
    causal_residual as causal_residual,
    causal_weights as causal_weights,
)
from ._combine import (
    CompositeLoss as CompositeLoss,
    combine as combine,
    weighted_sum as weighted_sum,
)
from ._jacobian import (
    misfit_jacobian as misfit_jacobian,
    residual_jacobian as residual_jacobian,
)
from ._least_squares import (
    LeastSquaresTerm as LeastSquaresTerm,
    least_squares as least_squares,
    mean_squared as mean_squared,
)
from ._operator import (
    RelativeL2 as RelativeL2,
    operator_residual as operator_residual,
    relative_l2 as relative_l2,
)
from ._terms import (
    MeanValue as MeanValue,
    data as data,
    dirichlet as dirichlet,
    initial as initial,
    mean_value as mean_value,
    neumann as neumann,
    periodic as periodic,
    residual as residual,
    robin as robin,
)
