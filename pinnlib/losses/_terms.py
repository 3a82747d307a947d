"""Loss terms: each builder returns a ``LeastSquaresTerm`` built from a misfit.

Elementwise misfits are reduced by a mean over the points, and summed over the
components of vector-valued fields: $\\mathcal{L} = \\frac1n \\sum_k \\|r(x_k)\\|^2$.
"""

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import Args, Point, PointFn, Scalar
from .._errors import (
    bad_argument,
    check_components,
    check_finite,
    check_output_value,
    check_point_function,
    check_points,
    check_samples,
    recast,
)
from ..diff import partials
from ._args import accepted_keys, coefficients, pde_name
from ._least_squares import LeastSquaresTerm, least_squares
from ._operator import predict


def _target(where: str, g) -> Callable[[Point], Scalar]:
    return cast(Callable[[Point], Scalar], check_point_function(where, g))


def _check_target(where: str, field, target) -> None:
    """Raise unless a target (shape/dtype struct) fits the field's output at a point."""
    check_output_value(
        where,
        field,
        target,
        what="the target",
        expected=f"a target of the field's output shape {field.shape} per point (or "
        "a scalar, for every output)",
        fix="Return one value per output of the field, or constrain some outputs "
        "only: pl.losses.dirichlet(g, components=(0, 1)), or wrap the field, "
        "e.g. lambda x: u(x)[:2].",
    )


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
    if recast(field, r):
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
    components = check_components(f"{where}(components=...)", components)
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


def _normal_function(normal) -> Callable[[Point], Array]:
    """The outward normal as a point function: `normal` itself, or a fixed one."""
    if callable(normal):
        return cast(Callable[[Point], Array], normal)
    fixed = tuple(float(v) for v in normal)
    return lambda x: jnp.asarray(fixed, x.dtype)


def _check_normal(where: str, normal_fn, points: Array) -> None:
    """Raise at trace time unless the normal has one component per coordinate."""
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


def _along(n: Array, derivatives) -> Array:
    r"""The derivative along `n`, $\sum_i n_i \partial_i u$, per output of the field."""
    return functools.reduce(operator.add, (n[i] * d for i, d in enumerate(derivatives)))


def neumann(
    g=0.0, *, normal: Sequence[float] | Callable[[Point], Array]
) -> LeastSquaresTerm:
    r"""Neumann condition $\partial u/\partial n = \nabla u \cdot n = g$ on boundary points.

    The term is $\frac1n\sum_k \|\nabla u(x_k) \cdot n(x_k) - g(x_k)\|^2$, the
    derivatives from one `pinnlib.diff.partials` call (as in `robin`). For a vector
    field the condition holds for each output, with $g$ a scalar or of the output's
    shape (an outflow $\partial \mathbf{u}/\partial n = 0$).

    **Arguments:** `g`: point function or number, in the model's dtype; `normal`:
    the outward unit normal, a fixed sequence of $d$ floats (one face) or a point
    function `x -> (d,)` in the points' dtype, e.g. a domain's `normal` method
    (keyword-only).

    **Returns:** a `LeastSquaresTerm` that reads no `args`.

    **Raises:** at trace time, `ValueError` for a normal without one component per
    coordinate or a target of another shape than the field's output, `TypeError`
    for one of another float dtype.

    !!! example

        ```python
        right = pl.losses.neumann(0.0, normal=(1.0, 0.0))   # u_x = 0 on x = 1
        ```
    """
    where = "pinnlib.losses.neumann"
    target = _target(f"{where}(g=...)", g)
    normal_fn = _normal_function(normal)

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points(f"{where}: points", points)
        _check_normal(where, normal_fn, points)
        _check_target(
            f"{where}(g=...)", _at_point(model, points), _at_point(target, points)
        )

        def mismatch(x: Point) -> Array:
            grad = partials(model, x, *((i,) for i in range(x.shape[0])))
            return jnp.asarray(_along(normal_fn(x), grad) - target(x))

        return jax.vmap(mismatch)(points)

    return least_squares(misfit, accepts=())


def robin(
    a, b, g=0.0, *, normal: Sequence[float] | Callable[[Point], Array]
) -> LeastSquaresTerm:
    r"""Robin condition $a\,u + b\,\partial u/\partial n = g$ on boundary points.

    The term is $\frac1n\sum_k \|a(x_k)\,u(x_k) + b(x_k)\,\nabla u(x_k) \cdot n(x_k)
    - g(x_k)\|^2$: a convective (Newton cooling) or impedance boundary; $b = 0$ is a
    Dirichlet and $a = 0$ a Neumann condition. The value and the gradient come from
    one `pinnlib.diff.partials` call. For a vector field the condition holds for
    each output, with $a$, $b$, $g$ scalars or of the output's shape.

    **Arguments:**

    - `a`, `b`: the coefficients, numbers or point functions `x -> ()` (or the
      output's shape), in the model's dtype.
    - `g`: the data, a point function or a number (default 0).
    - `normal`: the outward unit normal, as in `neumann`: a fixed sequence of $d$
      floats or a point function `x -> (d,)` in the points' dtype, e.g. a domain's
      `normal` method (keyword-only).

    **Returns:** a `LeastSquaresTerm` that reads no `args`.

    **Raises:** `ValueError` for `a`, `b` or `g` that is neither a number nor a
    point function, or for `a = b = 0`; at trace time, `ValueError` for a normal
    without one component per coordinate or a coefficient or target of another
    shape than the field's output, `TypeError` for one of another float dtype.

    !!! example

        ```python
        # u + du/dn = R^2 + 2R on the circle |x| = R (solved by u = |x|^2)
        disk = pl.losses.robin(
            1.0, 1.0, R**2 + 2 * R, normal=lambda x: x / jnp.linalg.norm(x)
        )
        # heat loss through the face x = 1: k du/dn + h u = h u_ambient
        face = pl.losses.robin(h, k, h * u_ambient, normal=(1.0, 0.0))
        ```
    """
    where = "pinnlib.losses.robin"
    if all(isinstance(c, int | float) and c == 0 for c in (a, b)):
        raise bad_argument(
            f"{where}(a=..., b=...)",
            "coefficients that are not both zero",
            (a, b),
            "With a = b = 0 there is no condition; set a = 1, b = 0 for Dirichlet "
            "data or use pl.losses.dirichlet.",
        )
    coefficient_a = _target(f"{where}(a=...)", a)
    coefficient_b = _target(f"{where}(b=...)", b)
    target = _target(f"{where}(g=...)", g)
    normal_fn = _normal_function(normal)

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points(f"{where}: points", points)
        _check_normal(where, normal_fn, points)
        field = _at_point(model, points)
        for name, fn in (("a", coefficient_a), ("b", coefficient_b), ("g", target)):
            _check_target(f"{where}({name}=...)", field, _at_point(fn, points))

        def mismatch(x: Point) -> Array:
            value, *grad = partials(model, x, (), *((i,) for i in range(x.shape[0])))
            flux = _along(normal_fn(x), grad)
            a_x, b_x, g_x = coefficient_a(x), coefficient_b(x), target(x)
            return jnp.asarray(a_x * value + b_x * flux - g_x)

        return jax.vmap(mismatch)(points)

    return least_squares(misfit, accepts=())


def _mean_target(where: str, target):
    """`target` as an array maker: numbers take the field's dtype, arrays keep theirs."""
    if callable(target):
        raise bad_argument(
            where,
            "a number or an array (the mean is one value, not a point function)",
            target,
            "Pass e.g. 0.0, or one value per selected component such as (0.0, 1.0).",
        )
    if hasattr(target, "dtype"):
        check_finite(where, target)
        return lambda dtype: jnp.asarray(target)
    try:
        values = np.asarray(target, dtype=float)
    except (TypeError, ValueError):
        raise bad_argument(
            where,
            "a number or a sequence of numbers",
            target,
            "Pass e.g. 0.0, or one value per selected component such as (0.0, 1.0).",
        ) from None
    check_finite(where, values)
    return lambda dtype: jnp.asarray(values, dtype)


def mean_value(target=0.0, *, components: Sequence[int] | None = None) -> "MeanValue":
    r"""The mean of the field over the term's points equals `target`.

    The misfit is the single residual $\bar u - c$ with
    $\bar u = \frac1n \sum_k u(x_k)$ (only the outputs `components` of a vector
    field, if given), so the term is the squared deviation of the mean,
    $\|\bar u - c\|^2$. It fixes what the equations leave free up to a constant, as
    the pressure of incompressible flow: `mean_value(0.0, components=(2,))` for a
    field $(u, v, p)$ is the zero-mean pressure gauge (Gresho & Sani 1987). The
    alternative gauge, the pressure at one point, is
    `pl.losses.dirichlet(p0, components=(2,))` on a batch entry of one point. The
    mean is over the points of each evaluation: with resampled or minibatched
    points it is a Monte Carlo estimate of the domain mean.

    **Arguments:**

    - `target`: the mean $c$, a number (default 0) or an array of the (selected)
      output shape. Numbers take the model's dtype; an array must have it.
    - `components`: output indices of a vector field to constrain (keyword-only).

    **Returns:** a `MeanValue`, a `LeastSquaresTerm` that reads no `args`; its
    misfit has shape `(1,)` + the (selected) output shape, e.g. `(1, c)` with `c`
    components.

    **Raises:** `ValueError` for a non-numeric or non-finite `target` or bad
    `components`; at trace time, `ValueError` for a target of another shape than
    the (selected) output, `TypeError` for an array target of another float dtype.

    !!! example

        ```python
        # field (u, v, p): zero-mean pressure over the interior points
        gauge = pl.losses.mean_value(0.0, components=(2,))
        loss = pl.losses.combine(pde=pl.losses.residual(pl.pdes.navier_stokes),
                                 gauge=gauge)
        batch = {"pde": interior, "gauge": interior}
        ```
    """
    where = "pinnlib.losses.mean_value"
    make_target = _mean_target(f"{where}(target=...)", target)
    components = check_components(f"{where}(components=...)", components)

    def misfit(model: PointFn, points, args: Args = None) -> Array:
        check_points(f"{where}: points", points)
        field = _selected(where, model, components, points)
        shape = _at_point(field, points)
        value = make_target(shape.dtype)
        _check_target(f"{where}(target=...)", shape, value)
        mean = jnp.mean(jax.vmap(field)(points), axis=0)
        return (mean - value)[None]

    return MeanValue(
        misfit, frozenset(), False, components=components, make_target=make_target
    )


class MeanValue(LeastSquaresTerm):
    r"""The term made by `mean_value`: $\|\bar u - c\|^2$, with additive statistics.

    A `LeastSquaresTerm` (its misfit is the one row $\bar u - c$, so Gauss–Newton
    optimizers take it) whose value also comes from sums over the points:

    - `statistics(model, points, args)`: $(S, n)$, the sum of the (selected)
      outputs over the points and their number;
    - `from_statistics(stats, args)`: $\|S / n - c\|^2$.

    `pinnlib.parallel.data_parallel` adds the statistics of every device's points,
    so the mean is that of all the points.

    **Fields:** those of `LeastSquaresTerm`, and `components` and `make_target`
    (the target $c$ in a given dtype).

    !!! example

        ```python
        gauge = pl.losses.mean_value(0.0, components=(2,))
        total, count = gauge.statistics(u, points, None)   # (1,), ()
        gauge.from_statistics((total, count), None)         # = gauge(u, points, None)
        ```
    """

    components: tuple[int, ...] | None = eqx.field(static=True, default=None)
    make_target: Callable[[Any], Array] | None = eqx.field(static=True, default=None)

    def statistics(
        self, model: PointFn, points: Any, args: Args = None
    ) -> tuple[Array, Float[Array, ""]]:
        """The sum of the (selected) outputs over the points, and their number."""
        where = "pinnlib.losses.mean_value"
        check_points(f"{where}: points", points)
        field = _selected(where, model, self.components, points)
        shape = _at_point(field, points)
        _check_target(f"{where}(target=...)", shape, self._target(shape.dtype))
        values = jax.vmap(field)(points)
        return jnp.sum(values, axis=0), jnp.asarray(points.shape[0], values.dtype)

    def from_statistics(self, stats: Any, args: Args = None) -> Float[Array, ""]:
        r"""$\|S / n - c\|^2$ from the sum and the number of points."""
        total, count = stats
        mean = total / count
        return jnp.sum(jnp.square(mean - self._target(mean.dtype)))

    def _target(self, dtype) -> Array:
        return cast(Callable[[Any], Array], self.make_target)(dtype)


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
