"""Type aliases shared by every module (one place, as in diffrax/optimistix)."""

from collections.abc import Callable
from typing import Any, TypeAlias

from jaxtyping import Array, ArrayLike, Float, PyTree, Real

#: One point of the domain, shape ``(d,)``: space coordinates, then time if any.
Point: TypeAlias = Float[Array, " d"]
#: A set of points, shape ``(n, d)``.
Points: TypeAlias = Float[Array, "n d"]
#: A field evaluated at one point: a scalar ``()`` or a small vector ``(m,)``.
Value: TypeAlias = Float[Array, "*m"]
#: A point function ``u(x) -> value``: an ``eqx.Module`` or any callable on one point.
PointFn: TypeAlias = Callable[[Point], Value]
#: Coefficients and data handed to residuals and losses explicitly (never closed over).
Args: TypeAlias = PyTree[Any]
#: A loss term ``term(model, points, args) -> scalar``.
LossTerm: TypeAlias = Callable[[PointFn, PyTree[Array], Args], Float[Array, ""]]
Scalar: TypeAlias = Real[ArrayLike, ""]

__all__ = ["Args", "LossTerm", "Point", "PointFn", "Points", "Scalar", "Value"]
