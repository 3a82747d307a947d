"""Optimizers beyond optax's first-order ones: dense self-scaled quasi-Newton
(SSBroyden, SSBFGS, BFGS), Gauss–Newton / natural gradient, Levenberg–Marquardt, and
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
from ._levenberg_marquardt import (
    LevenbergMarquardt as LevenbergMarquardt,
    LevenbergMarquardtState as LevenbergMarquardtState,
    levenberg_marquardt as levenberg_marquardt,
)
from ._quasi_newton import (
    QuasiNewtonState as QuasiNewtonState,
    quasi_newton as quasi_newton,
    restart as restart,
    scale_by_quasi_newton as scale_by_quasi_newton,
)
