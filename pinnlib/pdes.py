"""Residuals of standard equations.

Each function takes the field and the equation's coefficients and returns the
residual as a point function ``r(x)``; a field solves the equation where $r = 0$.
Coefficients are arguments (floats or traced arrays), never closed-over data, so
they can come from ``args`` inside a compiled loop. Space-time points are
``(x_1, ..., x_d, t)``: time is the last coordinate. All derivatives come from one
``pinnlib.diff.partials`` call per residual (fused for MLP fields).
"""

import functools
import operator
from collections.abc import Callable, Sequence

import jax.numpy as jnp
from jaxtyping import ArrayLike, Float

from ._custom_types import Point, PointFn, Scalar
from ._errors import bad_argument, check_finite
from .diff import partials


def _coefficients(name: str, **values) -> None:
    for key, value in values.items():
        check_finite(f"pinnlib.pdes.{name}({key}=...)", value)


def _check_source(name: str, source) -> None:
    if not callable(source):
        raise bad_argument(
            f"pinnlib.pdes.{name}(source=...)",
            "a point function f(x)",
            source,
            "Wrap a constant as `lambda x: c`.",
        )


def _space_axes(x: Point, space_only: bool) -> tuple[int, ...]:
    return tuple(range(x.shape[0] - 1 if space_only else x.shape[0]))


def _check_dimension(name: str, x: Point, *, exact: int | None = None) -> None:
    """Space-time equations need (x, t): exactly 2 coordinates, or at least 2."""
    ok = x.shape[0] == exact if exact is not None else x.shape[0] >= 2
    if not ok:
        what = f"points (x, t) of dimension {exact}" if exact else "points (x..., t)"
        raise bad_argument(
            f"pinnlib.pdes.{name}(u, ...)(x)",
            what,
            x.shape,
            "Space-time residuals take the space coordinates then time (last).",
        )


def burgers(u: PointFn, *, nu: Scalar) -> PointFn:
    r"""Viscous Burgers in 1-d: $r = u_t + u\,u_x - \nu\,u_{xx}$, points $(x, t)$.

    **Arguments:** `u`: scalar field on `(x, t)`; `nu`: viscosity $\nu$ (keyword-only).

    **Returns:** the residual point function `r(x) -> ()`.

    !!! example

        ```python
        r = pl.pdes.burgers(u, nu=0.01 / jnp.pi)
        jax.vmap(r)(points)           # (n,)
        ```
    """
    _coefficients("burgers", nu=nu)

    def residual(x: Point):
        _check_dimension("burgers", x, exact=2)
        v, v_t, v_x, v_xx = partials(u, x, (), (1,), (0,), (0, 0))
        return v_t + v * v_x - nu * v_xx

    return residual


def poisson(u: PointFn, *, source: Callable[[Point], Scalar]) -> PointFn:
    r"""Poisson: $r = -\Delta u - f$ over all coordinates.

    **Arguments:** `u`: scalar field; `source`: $f$, a point function (keyword-only).

    !!! example

        ```python
        f = lambda x: 2 * jnp.pi**2 * jnp.prod(jnp.sin(jnp.pi * x))
        r = pl.pdes.poisson(u, source=f)
        ```
    """
    _check_source("poisson", source)

    def residual(x: Point):
        second = partials(u, x, *((i, i) for i in _space_axes(x, False)))
        return -functools.reduce(operator.add, second) - source(x)

    return residual


def heat(u: PointFn, *, diffusivity: Scalar) -> PointFn:
    r"""Heat equation: $r = u_t - \kappa\,\Delta_x u$, points $(x_1..x_d, t)$.

    **Arguments:** `u`: scalar field; `diffusivity`: $\kappa$ (keyword-only).

    !!! example

        ```python
        r = pl.pdes.heat(u, diffusivity=0.1)
        ```
    """
    _coefficients("heat", diffusivity=diffusivity)

    def residual(x: Point):
        _check_dimension("heat", x)
        u_t, *second = partials(u, x, (-1,), *((i, i) for i in _space_axes(x, True)))
        return u_t - diffusivity * sum(second)

    return residual


def wave(u: PointFn, *, speed: Scalar) -> PointFn:
    r"""Wave equation: $r = u_{tt} - c^2\,\Delta_x u$, points $(x_1..x_d, t)$.

    **Arguments:** `u`: scalar field; `speed`: $c$ (keyword-only).

    !!! example

        ```python
        r = pl.pdes.wave(u, speed=2.0)
        ```
    """
    _coefficients("wave", speed=speed)

    def residual(x: Point):
        _check_dimension("wave", x)
        u_tt, *second = partials(
            u, x, (-1, -1), *((i, i) for i in _space_axes(x, True))
        )
        return u_tt - speed**2 * sum(second)

    return residual


def advection(
    u: PointFn, *, velocity: Scalar | Float[ArrayLike, " d"] | Sequence[float]
) -> PointFn:
    r"""Linear advection: $r = u_t + c \cdot \nabla_x u$, points $(x_1..x_d, t)$.

    **Arguments:** `u`: scalar field; `velocity`: $c$, a scalar (1-d) or one value per
    space dimension (keyword-only).

    !!! example

        ```python
        r = pl.pdes.advection(u, velocity=1.0)
        ```
    """
    _coefficients("advection", velocity=velocity)

    def residual(x: Point):
        _check_dimension("advection", x)
        axes = _space_axes(x, True)
        c = jnp.broadcast_to(jnp.asarray(velocity, x.dtype), (len(axes),))
        u_t, *grads = partials(u, x, (-1,), *((i,) for i in axes))
        return u_t + sum(c[i] * g for i, g in enumerate(grads))

    return residual


def allen_cahn(
    u: PointFn, *, diffusion: Scalar = 1e-4, reaction: Scalar = 5.0
) -> PointFn:
    r"""Allen–Cahn in 1-d: $r = u_t - \epsilon\,u_{xx} + k\,(u^3 - u)$, points $(x, t)$.

    Defaults $\epsilon = 10^{-4}$, $k = 5$ are the standard benchmark (Raissi et al.
    2019; Wang et al. 2023).

    **Arguments:** `u`: scalar field; `diffusion`: $\epsilon$; `reaction`: $k$
    (keyword-only).

    !!! example

        ```python
        r = pl.pdes.allen_cahn(u)
        ```
    """
    _coefficients("allen_cahn", diffusion=diffusion, reaction=reaction)

    def residual(x: Point):
        _check_dimension("allen_cahn", x, exact=2)
        v, v_t, v_xx = partials(u, x, (), (1,), (0, 0))
        return v_t - diffusion * v_xx + reaction * (v**3 - v)

    return residual


def helmholtz(
    u: PointFn, *, wavenumber: Scalar, source: Callable[[Point], Scalar]
) -> PointFn:
    r"""Helmholtz: $r = \Delta u + k^2 u - f$ over all coordinates.

    **Arguments:** `u`: scalar field; `wavenumber`: $k$; `source`: $f$, a point
    function (keyword-only).

    !!! example

        ```python
        r = pl.pdes.helmholtz(u, wavenumber=1.0, source=lambda x: 0.0)
        ```
    """
    _coefficients("helmholtz", wavenumber=wavenumber)
    _check_source("helmholtz", source)

    def residual(x: Point):
        v, *second = partials(u, x, (), *((i, i) for i in _space_axes(x, False)))
        return functools.reduce(operator.add, second) + wavenumber**2 * v - source(x)

    return residual
