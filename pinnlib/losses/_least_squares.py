"""Least-squares loss terms: a misfit function and its mean square."""

from collections.abc import Callable, Iterable
from typing import cast

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args, PointFn
from .._errors import bad_argument
from ._args import as_accepts

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

    **Fields:**

    - `misfit`: `misfit(model, points, args) -> (n, ...)` misfits.
    - `accepts`: the keys of the loss `args` (a dict) the term reads, a `frozenset`,
      or `None` when unknown (it may read any key). `residual(pde)` takes them from
      the pde's signature; condition terms (`dirichlet`, `initial`, `neumann`,
      `periodic`, `data`) read none. `pinnlib.losses.combine` uses them to reject a
      key that no term reads (a misspelt coefficient would otherwise be ignored).
    - `pointwise`: whether row $k$ of the misfit depends on point $k$ alone (true
      for every builder but `pinnlib.losses.mean_value`). The per-point Jacobian of
      Gauss–Newton optimizers and `pinnlib.parallel.data_parallel` rely on it; a
      term that is not pointwise gets its Jacobian in one `jax.jacrev`, and
      `data_parallel` leaves the loss to the partitioned program unless the term
      has `statistics` and `from_statistics` methods (as `MeanValue`).

    !!! example

        ```python
        term = pl.losses.residual(pl.pdes.burgers)
        term.accepts                               # frozenset({'nu'})
        term.misfit(u, points, {"nu": nu}).shape   # (n,)
        term(u, points, {"nu": nu})                # mean of the squares
        ```
    """

    misfit: Misfit = eqx.field(static=True)
    accepts: frozenset[str] | None = eqx.field(static=True, default=None)
    pointwise: bool = eqx.field(static=True, default=True)

    def __call__(
        self, model: PointFn, points: PyTree[Array], args: Args = None
    ) -> Float[Array, ""]:
        return mean_squared(self.misfit(model, points, args))


def least_squares(
    misfit, *, accepts: Iterable[str] | None = None, pointwise: bool = True
) -> LeastSquaresTerm:
    r"""A loss term from a misfit function: $\mathcal{L} = \frac1n\sum_k \|m_k\|^2$.

    Use it for custom terms so that they work with Gauss–Newton optimizers as well
    as with first-order ones.

    **Arguments:**

    - `misfit`: `misfit(model, points, args) -> (n, ...)`, the misfit at each of
      the `n` points (any trailing shape; the squares are summed over it).
    - `accepts`: the keys of the loss `args` the misfit reads, e.g. `("nu",)`, or
      `()` for none (keyword-only). The default `None` means unknown: then
      `combine` cannot tell a misspelt key and does not check `args` keys.
    - `pointwise`: `True` (default) when misfit row $k$ depends on point $k$ alone;
      `False` for a misfit over all points at once, e.g. a mean (keyword-only).

    **Returns:** a `LeastSquaresTerm`.

    !!! example

        ```python
        # u(x) = x_0 on the points: a custom Dirichlet-like term
        term = pl.losses.least_squares(
            lambda model, points, args: jax.vmap(model)(points) - points[:, 0]
        )
        loss = pl.losses.combine(pde=pl.losses.residual(pl.pdes.burgers), bc=term)
        # declare that it reads no args: combine then rejects unknown keys
        term = pl.losses.least_squares(lambda m, p, a: jax.vmap(m)(p), accepts=())
        ```
    """
    if not callable(misfit):
        raise bad_argument(
            "pinnlib.losses.least_squares(misfit=...)",
            "a function misfit(model, points, args) -> (n, ...) array",
            type(misfit).__name__,
            "Pass the function whose squares make the term.",
        )
    accepts = as_accepts("pinnlib.losses.least_squares(accepts=...)", accepts)
    if not isinstance(pointwise, bool):
        raise bad_argument(
            "pinnlib.losses.least_squares(pointwise=...)",
            "a bool",
            pointwise,
            "Pass pointwise=False for a misfit that mixes points (e.g. a mean).",
        )
    return LeastSquaresTerm(cast(Misfit, misfit), accepts, pointwise)
