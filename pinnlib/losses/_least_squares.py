"""Least-squares loss terms: a misfit function and its mean square."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args, PointFn
from .._errors import bad_argument

Misfit = Callable[[PointFn, PyTree[Array], Args], Float[Array, " n *m"]]


def mean_squared(values: Float[Array, " n *m"]) -> Float[Array, ""]:
    r"""$\frac1n \sum_k \|v_k\|^2$: mean over points of the squared (summed) misfit.

    !!! example

        ```python
        pl.losses.mean_squared(jnp.array([1.0, 3.0]))   # 5.0
        ```
    """
    squares = jnp.square(values).reshape(values.shape[0], -1)
    return jnp.mean(jnp.sum(squares, axis=1))


class LeastSquaresTerm(eqx.Module):
    r"""A loss term $\mathcal{L} = \frac1n \sum_k \|m(x_k)\|^2$ that keeps its misfit $m$.

    Calling it gives the scalar term, like any loss term. Its `misfit` gives the
    per-point misfits `(n, ...)`, which is what Gauss–Newton and natural-gradient
    optimizers (`pinnlib.optim.gauss_newton`) need. Every builder in
    `pinnlib.losses` returns one; make your own with `pinnlib.losses.least_squares`.

    **Fields:** `misfit`: `misfit(model, points, args) -> (n, ...)` misfits.

    !!! example

        ```python
        term = pl.losses.residual(pl.pdes.burgers)
        term.misfit(u, points, {"nu": nu}).shape   # (n,)
        term(u, points, {"nu": nu})                # mean of the squares
        ```
    """

    misfit: Misfit = eqx.field(static=True)

    def __call__(
        self, model: PointFn, points: PyTree[Array], args: Args = None
    ) -> Float[Array, ""]:
        return mean_squared(self.misfit(model, points, args))


def least_squares(misfit) -> LeastSquaresTerm:
    r"""A loss term from a misfit function: $\mathcal{L} = \frac1n\sum_k \|m_k\|^2$.

    Use it for custom terms so that they work with Gauss–Newton optimizers as well
    as with first-order ones.

    **Arguments:** `misfit`: `misfit(model, points, args) -> (n, ...)`, the misfit
    at each of the `n` points (any trailing shape; the squares are summed over it).

    **Returns:** a `LeastSquaresTerm`.

    !!! example

        ```python
        # u(x) = x_0 on the points: a custom Dirichlet-like term
        term = pl.losses.least_squares(
            lambda model, points, args: jax.vmap(model)(points) - points[:, 0]
        )
        loss = pl.losses.combine(pde=pl.losses.residual(pl.pdes.burgers), bc=term)
        ```
    """
    if not callable(misfit):
        raise bad_argument(
            "pinnlib.losses.least_squares(misfit=...)",
            "a function misfit(model, points, args) -> (n, ...) array",
            type(misfit).__name__,
            "Pass the function whose squares make the term.",
        )
    return LeastSquaresTerm(misfit)
