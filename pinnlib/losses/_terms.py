"""Loss terms: each builder returns a ``LeastSquaresTerm`` built from a misfit.

Elementwise misfits are reduced by a mean over the points, and summed over the
components of vector-valued fields: $\\mathcal{L} = \\frac1n \\sum_k \\|r(x_k)\\|^2$.
"""

from collections.abc import Callable, Sequence
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._custom_types import Args, Point, PointFn, Scalar
from .._errors import bad_argument, check_points
from ..diff import gradient, partials
from ._args import accepted_keys, coefficients, pde_name
from ._least_squares import LeastSquaresTerm, least_squares
from ._operator import check_samples, predict


def _target(where: str, g) -> Callable[[Point], Scalar]:
    if callable(g):
        return cast(Callable[[Point], Scalar], g)
    try:
        constant = float(g)
    except (TypeError, ValueError):
        raise bad_argument(
            where,
            "a point function g(x) or a number",
            g,
            "Pass e.g. `lambda x: -jnp.sin(jnp.pi * x[0])` or 0.0.",
        ) from None
    return lambda x: jnp.asarray(constant)  # weakly typed: takes the field's dtype


def _check_target(where: str, field, target) -> None:
    """Raise unless a target (shape/dtype struct) fits the field's output at a point."""
    try:
        fits = jnp.broadcast_shapes(field.shape, target.shape) == field.shape
    except ValueError:
        fits = False
    if not fits:
        raise bad_argument(
            where,
            f"a target of the field's output shape {field.shape} per point (or a "
            "scalar, for every output)",
            target.shape,
            "Return one value per output of the field, or constrain some outputs "
            "only: pl.losses.dirichlet(g, components=(0, 1)), or wrap the field, "
            "e.g. lambda x: u(x)[:2].",
        )
    if _recast(field, target):
        raise TypeError(
            f"{where}: the target is {target.dtype} but the field's output is "
            f"{field.dtype}. Compute the target from the point x (it has the "
            f"model's dtype) or convert it with .astype(x.dtype); pinnlib never "
            "casts silently."
        )


def _recast(field, value) -> bool:
    """Whether a float `value`, not weakly typed, has another dtype than the field."""
    floating = all(jnp.issubdtype(v.dtype, jnp.floating) for v in (field, value))
    weak = getattr(value, "weak_type", False)
    return floating and not weak and value.dtype != field.dtype


def _at_point(fn, points: Array):
    """The output shape and dtype of a point function on one of `points`."""
    return jax.eval_shape(fn, jax.ShapeDtypeStruct(points.shape[1:], points.dtype))


def _residual_at(pde, model: PointFn, points: Array, args: Args = None) -> Array:
    """$r(x_k)$ at each point: `pde(model, **args it accepts)` mapped over `points`.

    Raises if a required coefficient is missing from `args`, or if the residual's
    dtype differs from the field's (e.g. a float64 source for a float32 model).
    """
    r = jax.vmap(pde(model, **coefficients(pde, args)))(points)
    field = _at_point(model, points)
    if _recast(field, r):
        raise TypeError(
            f"{pde_name(pde)}: the residual is {r.dtype} but the field's output is "
            f"{field.dtype}: a coefficient in `args` (e.g. a source function) "
            f"computes in {r.dtype}. Compute it from the point x (it has the model's "
            "dtype) or convert it with .astype(x.dtype); pinnlib never casts silently."
        )
    return r


def residual(pde: Callable[..., PointFn]) -> LeastSquaresTerm:
    r"""Mean squared PDE residual $\frac1n\sum_k \|r(x_k)\|^2$ over collocation points.

    **Arguments:**

    - `pde`: a residual builder `pde(u, **coefficients) -> r` such as
      `pinnlib.pdes.burgers`; at evaluation it receives the model and, as keyword
      arguments, the entries of the loss `args` (a dict) that it accepts — so the
      terms of a system can share one `args` dict. A coefficient may be a number,
      an array (both traced, so changing them does not recompile) or a function,
      such as a source term `f(x)` evaluated at each point; functions are part of
      the compiled program, as a field is.

    **Returns:** a `LeastSquaresTerm` `term(model, points, args)`, with `points` of
    shape `(n, d)`. Its `accepts` are the keyword names of `pde` after the field
    (`None`, any key, if `pde` takes `**kwargs`); `pinnlib.losses.combine` raises a
    `ValueError` for a key of `args` that no term accepts.

    **Raises:** `TypeError` at evaluation when a coefficient `pde` requires (one
    without a default) is missing from `args`, or when the residual's float dtype
    differs from the field's output dtype.

    !!! example

        ```python
        term = pl.losses.residual(pl.pdes.burgers)
        term(u, points, {"nu": 0.01 / jnp.pi})

        # a function as a coefficient: the source f of -Δu = f
        f = lambda x: 2 * jnp.pi**2 * jnp.prod(jnp.sin(jnp.pi * x))
        poisson = pl.losses.residual(pl.pdes.poisson)
        poisson(u, points, {"source": f})
        ```
    """
    if not callable(pde):
        raise bad_argument(
            "pinnlib.losses.residual(pde=...)",
            "a residual builder pde(u, **coefficients) -> r",
            type(pde).__name__,
            "Pass the builder itself, e.g. pl.pdes.burgers.",
        )

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points("pinnlib.losses.residual: points", points)
        return _residual_at(pde, model, points, args)

    return least_squares(misfit, accepts=accepted_keys(pde))


def _value_misfit(where: str, g, components: tuple[int, ...] | None):
    """The misfit `u(x)[components] - g(x)` of a value condition, checked at trace."""
    target = _target(f"{where}(g=...)", g)

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points(f"{where}: points", points)
        field = _selected(where, model, components, points)
        _check_target(
            f"{where}(g=...)", _at_point(field, points), _at_point(target, points)
        )
        return jax.vmap(lambda x: field(x) - target(x))(points)

    return misfit


def _components(where: str, components) -> tuple[int, ...] | None:
    if components is None:
        return None
    try:
        indices = tuple(components)
    except TypeError:
        indices = ()
    if not indices or not all(
        isinstance(i, int | np.integer) and not isinstance(i, bool) for i in indices
    ):
        raise bad_argument(
            where,
            "a non-empty sequence of int output indices",
            components,
            "Pass e.g. components=(0, 1) for the first two outputs of the field.",
        )
    return tuple(int(i) for i in indices)


def _selected(where: str, model: PointFn, components, points: Array) -> PointFn:
    """`model`, or `x -> model(x)[components]` after checking the indices."""
    if components is None:
        return model
    shape = _at_point(model, points).shape
    if len(shape) != 1 or not all(-shape[0] <= i < shape[0] for i in components):
        raise bad_argument(
            f"{where}(components=...)",
            f"indices of the outputs of a vector field (the field's output shape "
            f"is {shape})",
            components,
            "Use components only with a vector field u(x) -> (m,), with indices "
            "in range(m).",
        )
    index = np.asarray(components)
    return lambda x: model(x)[index]


def dirichlet(g=0.0, *, components: Sequence[int] | None = None) -> LeastSquaresTerm:
    r"""Dirichlet condition $u = g$ on boundary points: $\frac1n\sum_k \|u(x_k) - g(x_k)\|^2$.

    For a vector field, $g$ gives every output, or a number sets them all; with
    `components` $=(i_1, \dots, i_c)$ only those outputs are matched,
    $\frac1n\sum_k \sum_j (u_{i_j}(x_k) - g_j(x_k))^2$ (e.g. the velocity of a
    velocity–pressure field).

    **Arguments:**

    - `g`: a point function `g(x)` returning a scalar or the outputs' shape `(m,)`
      (`(c,)` with `components`), or a number (default 0). It must compute in the
      model's dtype (or return Python numbers).
    - `components`: output indices of a vector field to constrain (keyword-only).

    **Returns:** a `LeastSquaresTerm` that reads no `args` (`accepts` is empty).

    **Raises:** at trace time, `ValueError` if the target's shape does not fit the
    field's output (or the selected components), `TypeError` if its float dtype is
    not the field's.

    !!! example

        ```python
        bc = pl.losses.dirichlet(0.0)
        # u = (u_x, u_y, p): no-slip on the velocity only
        wall = pl.losses.dirichlet(lambda x: jnp.zeros(2, x.dtype), components=(0, 1))
        ```
    """
    where = "pinnlib.losses.dirichlet"
    components = _components(f"{where}(components=...)", components)
    return least_squares(_value_misfit(where, g, components), accepts=())


def initial(g, *, velocity=None) -> LeastSquaresTerm:
    r"""Initial condition $u(x, t_0) = g(x)$, and $u_t(x, t_0) = h(x)$ if `velocity`.

    Points are space-time points on the initial slice (time last). For second order
    in time (wave), pass `velocity` $h$ to add $\frac1n\sum_k (u_t - h)^2$.

    **Arguments:** `g`: point function (of the whole point) or number; `velocity`:
    optional point function or number (keyword-only). Both must compute in the
    model's dtype and have the field's output shape (or be scalars).

    **Returns:** a `LeastSquaresTerm` that reads no `args`.

    **Raises:** at trace time, `ValueError` for a target of another shape than the
    field's output, `TypeError` for one of another float dtype.

    !!! example

        ```python
        ic = pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0]))
        ```
    """
    where = "pinnlib.losses.initial"
    value = _value_misfit(where, g, None)
    if velocity is None:
        return least_squares(value, accepts=())
    rate = _target(f"{where}(velocity=...)", velocity)

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        values = value(model, points, args)
        _check_target(
            f"{where}(velocity=...)", _at_point(model, points), _at_point(rate, points)
        )
        u_t = jax.vmap(lambda x: partials(model, x, (-1,))[0] - rate(x))(points)
        n = points.shape[0]
        return jnp.concatenate([values.reshape(n, -1), u_t.reshape(n, -1)], axis=1)

    return least_squares(misfit, accepts=())


def neumann(
    g=0.0, *, normal: Sequence[float] | Callable[[Point], Array]
) -> LeastSquaresTerm:
    r"""Neumann condition $\partial u/\partial n = \nabla u \cdot n = g$ on boundary points.

    **Arguments:** `g`: point function or number, in the model's dtype; `normal`:
    the outward unit normal, a fixed sequence of $d$ floats (one face) or a point
    function `x -> (d,)` in the points' dtype (keyword-only). Forward-mode gradient.

    **Returns:** a `LeastSquaresTerm` that reads no `args`.

    !!! example

        ```python
        right = pl.losses.neumann(0.0, normal=(1.0, 0.0))   # u_x = 0 on x = 1
        ```
    """
    where = "pinnlib.losses.neumann"
    target = _target(f"{where}(g=...)", g)
    if callable(normal):
        normal_fn = normal
    else:
        fixed = tuple(float(v) for v in normal)
        normal_fn = lambda x: jnp.asarray(fixed, x.dtype)  # noqa: E731

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points(f"{where}: points", points)
        n = _at_point(normal_fn, points)
        if n.shape != points.shape[1:]:
            raise bad_argument(
                f"{where}(normal=...)",
                f"a normal with {points.shape[1]} components (one per coordinate)",
                n.shape,
                "Give the outward normal in the points' coordinates.",
            )
        coordinates = jax.ShapeDtypeStruct(points.shape[1:], points.dtype)
        _check_target(f"{where}(normal=...)", coordinates, n)
        _check_target(
            f"{where}(g=...)", _at_point(model, points), _at_point(target, points)
        )
        flux = lambda x: gradient(model)(x) @ normal_fn(x) - target(x)  # noqa: E731
        return jax.vmap(flux)(points)

    return least_squares(misfit, accepts=())


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

    return least_squares(misfit, accepts=())


def data() -> LeastSquaresTerm:
    r"""Data misfit $\frac1n\sum_k \|u(x_k) - y_k\|^2$; its batch entry is `(x, y)`.

    For a field, `x` are points `(n, d)` and `y` the values there. For an operator
    (`pinnlib.nn.FNO`, `pinnlib.nn.DeepONet`), `x` are `n` input samples: an array
    `(n, ...)`, or a tuple of such arrays passed to the model as positional
    arguments (`model(*x_k)`, e.g. DeepONet's sensor values and query points), and
    `y` the `n` targets; the squares are summed over each target's entries.

    **Returns:** `term(model, (inputs, values), args)` with `inputs (n, d)` points
    (or samples as above) and `values` of shape `(n,)` + the model's output shape.

    **Raises:** `ValueError` at trace time for an entry that is not a pair, inputs
    without a common leading axis, or values of another shape than the model's.

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
        inputs, values = observations
        if isinstance(inputs, tuple) or getattr(inputs, "ndim", 0) > 2:
            check_samples("pinnlib.losses.data: inputs", inputs)
        else:
            check_points("pinnlib.losses.data: points", inputs)
        predicted = predict(model, inputs)
        if predicted.shape != values.shape:
            raise bad_argument(
                "pinnlib.losses.data: values",
                f"shape {predicted.shape}",
                values.shape,
                "Give one observed value (or vector, or output sample) per input.",
            )
        return predicted - values

    return least_squares(misfit, accepts=())
