"""Optimizers beyond optax's first-order ones: Gauss–Newton / natural gradient."""

from ._gauss_newton import (
    GaussNewton as GaussNewton,
    GaussNewtonState as GaussNewtonState,
    gauss_newton as gauss_newton,
)
