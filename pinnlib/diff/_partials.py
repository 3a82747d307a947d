"""One entry point for derivatives of a point function: ``partials``."""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Point, PointFn
from .._errors import bad_argument
from ._taylor import fused_partials, is_fusable


def _chain(u: PointFn, axes: tuple[int, ...]):
    """``x -> (u, d_{a1} u, d_{a1 a2} u, ...)``: all prefixes of ``axes`` in one nest.

    Each level is one ``jax.jvp`` of the previous level's tuple, so the value and the
    lower derivatives are computed once and shared with the higher ones.
    """

    def level0(x):
        return (u(x),)

    f = level0
    for axis in axes:
        f = _differentiate_last(f, axis)
    return f


def _differentiate_last(inner, axis: int):
    """``x -> (*inner(x), d_axis inner(x)[-1])``: one more level of the nest."""

    def f(x):
        tangent = jnp.zeros_like(x).at[axis].set(1)
        values, derivatives = jax.jvp(inner, (x,), (tangent,))
        return (*values, derivatives[-1])

    return f


def _generic(u: PointFn, x: Point, indices: tuple[tuple[int, ...], ...]) -> tuple:
    """Nested forward mode; an index that prefixes a longer one reuses its chain."""
    values: dict[tuple[int, ...], Array] = {}
    for index in sorted(set(indices), key=len, reverse=True):
        if index not in values:
            chain = _chain(u, index)(x)
            values.update({index[:k]: v for k, v in enumerate(chain)})
    return tuple(values[index] for index in indices)


def _normalise(index, dim: int) -> tuple[int, ...]:
    index = (index,) if isinstance(index, int) else tuple(index)
    for axis in index:
        if not isinstance(axis, int) or not -dim <= axis < dim:
            raise bad_argument(
                "pinnlib.diff.partials(*indices)",
                f"tuples of coordinate indices in [-{dim}, {dim})",
                index,
                f"The point has {dim} coordinates; e.g. (0, 0) is u_xx and (-1,) the "
                "time derivative of a space-time field.",
            )
    return tuple(a % dim for a in index)


def partials(
    u: PointFn,
    x: Point,
    *indices: int | Sequence[int],
    fused: bool | None = None,
) -> tuple[Float[Array, "*m"], ...]:
    r"""Evaluate a field and several of its partial derivatives at one point, together.

    For each multi-index $\alpha = (i_1, \dots, i_k)$ returns
    $\partial^k u / \partial x_{i_1} \cdots \partial x_{i_k}$ at $x$; the empty index
    `()` is $u(x)$ itself. Asking for everything a residual needs in one call lets the
    derivatives share work.

    **AD mode.** Forward mode throughout (PINN points have few coordinates, so
    forward mode beats reverse mode: one Jacobian–vector product per direction).
    For orders $\le 2$ and a field that opts in — one with a `taylor_streams`
    method (see `pinnlib.diff.taylor`), as `pinnlib.nn.ModifiedMLP` and
    `pinnlib.nn.FactorizedMLP` have, an `eqx.nn.MLP`, or an `eqx.nn.Sequential`
    ending in one of these behind input embeddings — the value and derivative
    streams are pushed through the layers together: the activation and its
    derivatives are evaluated once per layer and shared, with one small matmul per
    stream and layer (Taylor mode, "forward Laplacian" style; see
    `benchmarks/operators_speed.py`). Otherwise, and for higher orders, nested
    `jax.jvp`, where an index that prefixes another (`(0,)` and `(0, 0)`) shares its
    nest. Measured on the Burgers and Allen–Cahn residual gradients (2540 points,
    MLP 2-32-32-32-1): fused 1.3x faster than both nested `jax.jvp` and reverse
    mode, which are on par.

    **Arguments:**

    - `u`: point function `u(x)` returning shape `()` or `(m,)`.
    - `x`: one point, shape `(d,)`.
    - `*indices`: multi-indices, each a tuple of coordinate indices (negative allowed,
      so `(-1,)` is $u_t$ for space-time points) or a single int for a first
      derivative.
    - `fused`: `None` (default) picks the fused path when possible; `False` forces
      nested `jax.jvp`; `True` requires the fused path (keyword-only).

    **Returns:** a tuple with one array per index, each shaped like `u(x)`.

    !!! example

        ```python
        # Burgers: u, u_t, u_x, u_xx at one point (x, t)
        u_, u_t, u_x, u_xx = pl.diff.partials(u, xt, (), (1,), (0,), (0, 0))
        ```
    """
    if getattr(x, "ndim", None) != 1:
        raise bad_argument(
            "pinnlib.diff.partials(x=...)",
            "one point of shape (d,)",
            getattr(x, "shape", x),
            "Evaluate at a single point and batch with jax.vmap.",
        )
    idx = tuple(_normalise(i, x.shape[0]) for i in indices)
    can_fuse = is_fusable(u) and all(len(i) <= 2 for i in idx)
    if fused and not can_fuse:
        raise bad_argument(
            "pinnlib.diff.partials(fused=True)",
            "a field with a taylor_streams method (or an eqx.nn.MLP) and "
            "derivative orders <= 2",
            f"{type(u).__name__} and orders {[len(i) for i in idx]}",
            "Pass fused=None to fall back to nested jax.jvp, or give the field's "
            "class a taylor_streams method (see pinnlib.diff.taylor).",
        )
    if can_fuse and fused is not False:
        return fused_partials(u, x, idx)
    return _generic(u, x, idx)
