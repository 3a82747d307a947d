"""Loss terms: each builder returns a ``LeastSquaresTerm`` built from a misfit.

Elementwise misfits are reduced by a mean over the points, and summed over the
components of vector-valued fields: $\\mathcal{L} = \\frac1n \\sum_k \\|r(x_k)\\|^2$.
"""

import inspect
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._custom_types import Args, Point, PointFn, Scalar
from .._errors import bad_argument, check_points
from ..diff import gradient, partials
from ._least_squares import LeastSquaresTerm, least_squares


def _target(where: str, g) -> Callable[[Point], Scalar]:
    if callable(g):
        return g
    try:
        constant = float(g)
    except (TypeError, ValueError):
        raise bad_argument(
            where,
            "a point function g(x) or a number",
            g,
            "Pass e.g. `lambda x: -jnp.sin(jnp.pi * x[0])` or 0.0.",
        ) from None
    return lambda x: jnp.asarray(constant, x.dtype)


def _accepted(pde) -> Callable[[Args], dict]:
    """The keyword arguments of ``pde`` found in ``args`` (all, if it takes **kw)."""
    params = inspect.signature(pde).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return lambda args: {} if args is None else dict(args)
    names = {
        p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    return lambda args: (
        {} if args is None else {k: v for k, v in dict(args).items() if k in names}
    )


def _residual_at(pde, model: PointFn, points: Array, args: Args = None) -> Array:
    """$r(x_k)$ at each point: `pde(model, **args it accepts)` mapped over `points`."""
    return jax.vmap(pde(model, **_accepted(pde)(args)))(points)


def residual(pde: Callable[..., PointFn]) -> LeastSquaresTerm:
    r"""Mean squared PDE residual $\frac1n\sum_k \|r(x_k)\|^2$ over collocation points.

    **Arguments:**

    - `pde`: a residual builder `pde(u, **coefficients) -> r` such as
      `pinnlib.pdes.burgers`; at evaluation it receives the model and, as keyword
      arguments, the entries of the loss `args` (a dict) that it accepts — so the
      terms of a system can share one `args` dict.

    **Returns:** `term(model, points, args)`, with `points` of shape `(n, d)`.

    !!! example

        ```python
        term = pl.losses.residual(pl.pdes.burgers)
        term(u, points, {"nu": 0.01 / jnp.pi})
        ```
    """

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points("pinnlib.losses.residual: points", points)
        return _residual_at(pde, model, points, args)

    return least_squares(misfit)


def dirichlet(g=0.0) -> LeastSquaresTerm:
    r"""Dirichlet condition $u = g$ on boundary points: $\frac1n\sum_k \|u(x_k) - g(x_k)\|^2$.

    **Arguments:** `g`: a point function or a number (default 0).

    !!! example

        ```python
        bc = pl.losses.dirichlet(0.0)
        ```
    """
    target = _target("pinnlib.losses.dirichlet(g=...)", g)

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points("pinnlib.losses.dirichlet: points", points)
        return jax.vmap(lambda x: model(x) - target(x))(points)

    return least_squares(misfit)


def initial(g, *, velocity=None) -> LeastSquaresTerm:
    r"""Initial condition $u(x, t_0) = g(x)$, and $u_t(x, t_0) = h(x)$ if `velocity`.

    Points are space-time points on the initial slice (time last). For second order
    in time (wave), pass `velocity` $h$ to add $\frac1n\sum_k (u_t - h)^2$.

    **Arguments:** `g`: point function (of the whole point) or number; `velocity`:
    optional point function or number (keyword-only).

    !!! example

        ```python
        ic = pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0]))
        ```
    """
    value = dirichlet(g)
    if velocity is None:
        return value
    rate = _target("pinnlib.losses.initial(velocity=...)", velocity)

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        u_t = jax.vmap(lambda x: partials(model, x, (-1,))[0] - rate(x))(points)
        values = value.misfit(model, points, args)
        n = points.shape[0]
        return jnp.concatenate([values.reshape(n, -1), u_t.reshape(n, -1)], axis=1)

    return least_squares(misfit)


def neumann(
    g=0.0, *, normal: Sequence[float] | Callable[[Point], Array]
) -> LeastSquaresTerm:
    r"""Neumann condition $\partial u/\partial n = \nabla u \cdot n = g$ on boundary points.

    **Arguments:** `g`: point function or number; `normal`: the outward unit normal,
    a fixed sequence of $d$ floats (one face) or a point function `x -> (d,)`
    (keyword-only). Forward-mode gradient.

    !!! example

        ```python
        right = pl.losses.neumann(0.0, normal=(1.0, 0.0))   # u_x = 0 on x = 1
        ```
    """
    target = _target("pinnlib.losses.neumann(g=...)", g)
    if callable(normal):
        normal_fn = normal
    else:
        fixed = tuple(float(v) for v in normal)
        normal_fn = lambda x: jnp.asarray(fixed, x.dtype)  # noqa: E731

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points("pinnlib.losses.neumann: points", points)
        n = jax.eval_shape(
            normal_fn, jax.ShapeDtypeStruct(points.shape[1:], points.dtype)
        )
        if n.shape != points.shape[1:]:
            raise bad_argument(
                "pinnlib.losses.neumann(normal=...)",
                f"a normal with {points.shape[1]} components (one per coordinate)",
                n.shape,
                "Give the outward normal in the points' coordinates.",
            )
        flux = lambda x: gradient(model)(x) @ normal_fn(x) - target(x)  # noqa: E731
        return jax.vmap(flux)(points)

    return least_squares(misfit)


def periodic(*, axis: int, period: float, derivatives: int = 1) -> LeastSquaresTerm:
    r"""Periodicity along `axis`: $u(x) = u(x + P e_i)$, and the first derivatives.

    Points lie on the lower face; each is compared with its image on the upper
    face. With `derivatives=1` (default) $\partial_i u$ must match too, which is what
    makes a $C^1$-periodic solution; `derivatives=0` matches values only. (For exact
    periodicity, build the field with `pinnlib.nn.PeriodicEmbedding` instead.)

    !!! example

        ```python
        per = pl.losses.periodic(axis=0, period=2.0)   # x in [-1, 1]
        ```
    """
    if derivatives not in (0, 1):
        raise bad_argument(
            "pinnlib.losses.periodic(derivatives=...)",
            "0 or 1",
            derivatives,
            "Match values (0) or values and first derivatives (1).",
        )
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise bad_argument(
            "pinnlib.losses.periodic(axis=...)",
            "an int coordinate index",
            axis,
            "Name the periodic coordinate, e.g. axis=0 for x.",
        )
    indices = ((), (axis,))[: derivatives + 1]

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points("pinnlib.losses.periodic: points", points)
        if not -points.shape[1] <= axis < points.shape[1]:
            raise bad_argument(
                "pinnlib.losses.periodic(axis=...)",
                f"an axis of the {points.shape[1]}-d points",
                axis,
                "Pick the index of the periodic coordinate.",
            )

        def mismatch(x):
            shifted = x.at[axis].add(period)
            lo, hi = partials(model, x, *indices), partials(model, shifted, *indices)
            return jnp.stack([a - b for a, b in zip(lo, hi)])

        return jax.vmap(mismatch)(points)

    return least_squares(misfit)


def data() -> LeastSquaresTerm:
    r"""Data misfit $\frac1n\sum_k \|u(x_k) - y_k\|^2$; its batch entry is `(x, y)`.

    **Returns:** `term(model, (points, values), args)` with `points (n, d)`,
    `values (n,)` or `(n, m)`.

    !!! example

        ```python
        obs = pl.losses.data()
        obs(u, (points, measured), None)
        ```
    """

    def misfit(model: PointFn, observations, args: Args = None) -> Array:
        if not (isinstance(observations, tuple) and len(observations) == 2):
            raise bad_argument(
                "pinnlib.losses.data: batch entry",
                "a tuple (points, values)",
                type(observations).__name__,
                "Put (x, y) in the batch under this name.",
            )
        points, values = observations
        check_points("pinnlib.losses.data: points", points)
        predicted = jax.vmap(model)(points)
        if predicted.shape != values.shape:
            raise bad_argument(
                "pinnlib.losses.data: values",
                f"shape {predicted.shape}",
                values.shape,
                "Give one observed value (or vector) per point.",
            )
        return predicted - values

    return least_squares(misfit)
