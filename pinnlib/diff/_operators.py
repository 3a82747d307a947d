"""Differential operators: each takes a point function and returns a point function."""

import functools
import operator
from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Point, PointFn
from .._errors import bad_argument
from ._partials import partials


def _axes(where: str, axes, dim: int) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(dim))
    axes = tuple(axes)
    if not axes or any(not isinstance(a, int) or not -dim <= a < dim for a in axes):
        raise bad_argument(
            where,
            f"a non-empty tuple of coordinate indices in [-{dim}, {dim})",
            axes,
            "For space-time points (x..., t) pass the space axes, e.g. axes=(0,).",
        )
    return tuple(a % dim for a in axes)


def partial(u: PointFn, *axes: int, fused: bool | None = None) -> PointFn:
    r"""The partial derivative $\partial^k u / \partial x_{i_1} \cdots \partial x_{i_k}$.

    Forward mode (see `pinnlib.diff.partials`). `partial(u, 0, 0)` is $u_{xx}$;
    `partial(u, -1)` is $u_t$ for space-time points $(x, t)$.

    **Arguments:**

    - `u`: point function, returning `()` or `(m,)`.
    - `*axes`: the coordinates to differentiate along, in order (at least one).
    - `fused`: as in `pinnlib.diff.partials` (keyword-only).

    **Returns:** a point function `x -> array` shaped like `u(x)`.

    !!! example

        ```python
        u_xx = pl.diff.partial(u, 0, 0)
        jax.vmap(u_xx)(points)       # (n,)
        ```
    """
    if not axes:
        raise bad_argument(
            "pinnlib.diff.partial(*axes)",
            "at least one axis",
            axes,
            "Name the coordinate(s), e.g. partial(u, 0) for u_x.",
        )
    return lambda x: partials(u, x, axes, fused=fused)[0]


def gradient(u: PointFn, *, axes: Sequence[int] | None = None) -> PointFn:
    r"""The gradient $\nabla u = (\partial u / \partial x_i)_i$ of a scalar field.

    Forward mode: one JVP per coordinate (fused for fields that opt in, see
    `partials`). With `axes`, only those coordinates (e.g. the space part of a
    space-time point).

    **Arguments:** `u`: scalar point function; `axes`: coordinates, default all
    (keyword-only).

    **Returns:** a point function `x -> (len(axes),)`.

    !!! example

        ```python
        grad_u = pl.diff.gradient(u)
        grad_u(jnp.array([0.1, 0.2]))   # shape (2,)
        ```
    """

    def grad_u(x: Point) -> Float[Array, "*m k"]:
        ax = _axes("pinnlib.diff.gradient(axes=...)", axes, x.shape[0])
        return jnp.stack(partials(u, x, *((a,) for a in ax)), axis=-1)

    return grad_u


def jacobian(u: PointFn, *, axes: Sequence[int] | None = None) -> PointFn:
    r"""The Jacobian $J_{ki} = \partial u_k / \partial x_i$ of a vector field.

    Forward mode. For a scalar field this is the gradient.

    **Returns:** a point function `x -> (m, len(axes))` (or `(len(axes),)` for scalar
    fields).

    !!! example

        ```python
        v = pl.nn.mlp(2, 2, key=jax.random.key(0))     # a 2-d vector field
        pl.diff.jacobian(v)(jnp.zeros(2)).shape          # (2, 2)
        ```
    """
    return gradient(u, axes=axes)


def hessian(u: PointFn, *, axes: Sequence[int] | None = None) -> PointFn:
    r"""The Hessian $H_{ij} = \partial^2 u / \partial x_i \partial x_j$ of a scalar field.

    Forward over forward mode (fused for fields that opt in, see `partials`);
    symmetric by construction.

    **Returns:** a point function `x -> (k, k)` with `k = len(axes)`.

    !!! example

        ```python
        pl.diff.hessian(u)(jnp.array([0.1, 0.2])).shape   # (2, 2)
        ```
    """

    def hess_u(x: Point) -> Float[Array, "k k"]:
        ax = _axes("pinnlib.diff.hessian(axes=...)", axes, x.shape[0])
        pairs = [(a, b) for n, a in enumerate(ax) for b in ax[n:]]
        values: dict[tuple[int, ...], Array] = dict(zip(pairs, partials(u, x, *pairs)))
        return jnp.stack(
            [
                jnp.stack([values[tuple(sorted((a, b), key=ax.index))] for b in ax])
                for a in ax
            ]
        )

    return hess_u


def laplacian(u: PointFn, *, axes: Sequence[int] | None = None) -> PointFn:
    r"""The Laplacian $\Delta u = \sum_{i \in \text{axes}} \partial^2 u / \partial x_i^2$.

    Forward over forward mode, fused for fields that opt in (only the diagonal second
    derivatives are formed). For space-time points pass the space axes so that
    $t$ is excluded; vector fields are handled componentwise.

    **Arguments:** `u`: point function; `axes`: coordinates to sum over, default all
    (keyword-only).

    **Returns:** a point function shaped like `u(x)`.

    !!! example

        ```python
        lap = pl.diff.laplacian(u, axes=(0,))    # u_xx for (x, t) points
        ```
    """

    def lap_u(x: Point):
        ax = _axes("pinnlib.diff.laplacian(axes=...)", axes, x.shape[0])
        return functools.reduce(operator.add, partials(u, x, *((a, a) for a in ax)))

    return lap_u


def divergence(v: PointFn, *, axes: Sequence[int] | None = None) -> PointFn:
    r"""The divergence $\nabla \cdot v = \sum_k \partial v_k / \partial x_{a_k}$.

    Component $k$ of the vector field pairs with coordinate `axes[k]`. Forward mode.

    **Arguments:** `v`: point function returning `(k,)`; `axes`: the $k$ coordinates,
    default all (keyword-only).

    **Returns:** a scalar point function.

    !!! example

        ```python
        div = pl.diff.divergence(lambda x: x**2)
        div(jnp.array([1.0, 2.0]))       # 2*1 + 2*2 = 6
        ```
    """

    def div_v(x: Point) -> Float[Array, ""]:
        ax = _axes("pinnlib.diff.divergence(axes=...)", axes, x.shape[0])
        derivs = partials(v, x, *((a,) for a in ax))
        if derivs[0].shape != (len(ax),):
            raise bad_argument(
                "pinnlib.diff.divergence(v=...)",
                f"a vector field with {len(ax)} components (one per axis)",
                derivs[0].shape,
                "Match the field's components to `axes`.",
            )
        return functools.reduce(operator.add, (d[k] for k, d in enumerate(derivs)))

    return div_v
