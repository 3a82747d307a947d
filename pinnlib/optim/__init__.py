"""Optimizers beyond optax's first-order ones: Gauss–Newton / natural gradient, and
the moving average of the iterates."""

from ._averaging import (
    AveragedState as AveragedState,
    averaged as averaged,
    averaged_model as averaged_model,
)
from ._gauss_newton import (
    GaussNewton as GaussNewton,
    GaussNewtonState as GaussNewtonState,
    gauss_newton as gauss_newton,
)
