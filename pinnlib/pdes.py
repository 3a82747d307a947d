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
import numpy as np
from jaxtyping import Array, ArrayLike, Float

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


# ------------------------------------------------------------ incompressible flows
#
# Fields of velocity and pressure, w(x) = (u_1, ..., u_d, p), density 1, kinematic
# viscosity nu. Each residual takes every derivative it needs in one `partials` call;
# for a vector field each derivative is a vector over the outputs, so all components
# come from one pass (fused for MLP fields, at orders <= 2).

_Force = Callable[[Point], Float[Array, " d"]]


def _check_unsteady(name: str, unsteady) -> bool:
    if isinstance(unsteady, bool | np.bool_):
        return bool(unsteady)
    raise bad_argument(
        f"pinnlib.pdes.{name}(unsteady=...)",
        "True or False (a Python bool: it decides which derivatives are taken)",
        unsteady,
        "Pass unsteady=True for space-time points (x_1, ..., x_d, t), time last; "
        "bind it with functools.partial rather than through traced loss args.",
    )


def _check_force(name: str, force) -> None:
    if force is not None and not callable(force):
        raise bad_argument(
            f"pinnlib.pdes.{name}(force=...)",
            "None or a point function f(x) -> (d,), one component per velocity",
            force,
            "Wrap a constant body force as `lambda x: jnp.array([0.0, -1.0], x.dtype)`.",
        )


def _layout(unsteady: bool) -> str:
    return "(x_1, ..., x_d, t)" if unsteady else "(x_1, ..., x_d)"


def _dimension_fix(name: str) -> str:
    if name == "stokes":
        return "Stokes flow is steady: pass space points (x_1, ..., x_d) only."
    return (
        "Pass unsteady=True when the last coordinate is time, unsteady=False for "
        "space points only."
    )


def _flow_space(name: str, x: Point, unsteady: bool, sizes: tuple[int, ...]) -> int:
    """The number d of space coordinates of `x`, checked to be one of `sizes`."""
    d = x.shape[0] - 1 if unsteady else x.shape[0]
    if d not in sizes:
        dims = " or ".join(str(s + unsteady) for s in sizes)
        raise bad_argument(
            f"pinnlib.pdes.{name}(u, ...)(x)",
            f"points {_layout(unsteady)} of dimension {dims} "
            f"(d = {' or '.join(map(str, sizes))} space coordinates"
            f"{', then time' if unsteady else ''})",
            x.shape,
            _dimension_fix(name),
        )
    return d


def _check_velocity_pressure(
    name: str, shape: tuple[int, ...], d: int, unsteady: bool
) -> None:
    """Raise unless the field's output shape is (d + 1,): velocity, then pressure."""
    if len(shape) != 1 or shape[0] not in (3, 4):
        raise bad_argument(
            f"pinnlib.pdes.{name}(u=...)",
            "a field returning (u_1, ..., u_d, p): 3 outputs in 2-d or 4 in 3-d",
            f"output shape {shape}",
            "Build the network with out_size=d + 1 (the velocity components, then "
            "the pressure).",
        )
    if shape[0] != d + 1:
        m = shape[0]
        raise bad_argument(
            f"pinnlib.pdes.{name}(u, ...)(x)",
            f"points {_layout(unsteady)} of dimension {m - 1 + unsteady} for a "
            f"field with {m} outputs ({m - 1}-d velocity and pressure)",
            f"points of dimension {d + unsteady}",
            _dimension_fix(name) + " Or give the field d + 1 outputs for d space "
            "coordinates.",
        )


def _force_at(name: str, force: _Force | None, x: Point, d: int):
    if force is None:
        return 0.0
    f = force(x)
    if jnp.shape(f) != (d,):
        raise bad_argument(
            f"pinnlib.pdes.{name}(force=...)",
            f"a point function returning shape ({d},), one component per velocity",
            jnp.shape(f),
            "Return the body force (f_1, ..., f_d) at the point x, in x's dtype.",
        )
    return f


def navier_stokes(
    u: PointFn,
    *,
    viscosity: Scalar,
    unsteady: bool = False,
    force: _Force | None = None,
) -> PointFn:
    r"""Incompressible Navier–Stokes in velocity–pressure form, density 1.

    For a field $w(x) = (u_1, \dots, u_d, p)$, $d = 2$ or $3$,

    $$
    r_i = [\partial_t u_i] + \sum_j u_j\,\partial_j u_i + \partial_i p
    - \nu\,\Delta u_i - f_i \quad (i = 1..d),
    \qquad r_{d+1} = \nabla \cdot \mathbf u = \sum_i \partial_i u_i,
    $$

    the time derivative only when `unsteady`. Points are $(x_1, \dots, x_d)$, or
    $(x_1, \dots, x_d, t)$ when `unsteady` (time last). The value, the first
    derivatives and the second derivatives $\partial_{ii}$ of every component come
    from one `pinnlib.diff.partials` call (one fused pass for MLP fields). This is the
    form of the NSFnets of Jin et al. (2021, J. Comput. Phys. 426, 109951); for
    Kovasznay's flow (Kovasznay 1948) $\nu = 1/Re$.

    **Arguments:**

    - `u`: the field, returning `(d + 1,)`: the velocity components, then the
      pressure.
    - `viscosity`: the kinematic viscosity $\nu$ (keyword-only, as the rest).
    - `unsteady`: whether the points carry time last and $\partial_t u_i$ enters
      (a Python bool, default `False`). Loss `args` are traced, so bind it in the
      builder: `pl.losses.residual(functools.partial(pl.pdes.navier_stokes,
      unsteady=True))`.
    - `force`: `None` or the body force, a point function `f(x) -> (d,)` in the
      points' dtype.

    **Returns:** the residual point function `r(x) -> (d + 1,)`: the $d$ momentum
    equations, then continuity.

    **Raises:** `ValueError` for a non-finite concrete `viscosity`, a non-bool
    `unsteady` or a non-callable `force`; at trace time, `ValueError` naming
    `pinnlib.pdes.navier_stokes` when the field's output size is not 3 or 4, when
    the point dimension is not $d$ ($d + 1$ when `unsteady`), or when the force's
    shape is not `(d,)`.

    !!! example

        ```python
        # Kovasznay's flow, Re = 20: a field (u, v, p) on points (x, y)
        r = pl.pdes.navier_stokes(field, viscosity=1 / 20)
        jax.vmap(r)(points)                              # (n, 3)
        # 3-d, unsteady: a field (u, v, w, p) on points (x, y, z, t)
        r = pl.pdes.navier_stokes(field3, viscosity=0.01, unsteady=True)
        # from the loss args: args={"viscosity": 0.05}
        term = pl.losses.residual(pl.pdes.navier_stokes)
        ```
    """
    name = "navier_stokes"
    _coefficients(name, viscosity=viscosity)
    unsteady = _check_unsteady(name, unsteady)
    _check_force(name, force)

    def residual(x: Point):
        d = _flow_space(name, x, unsteady, (2, 3))
        space = range(d)
        time = ((d,),) if unsteady else ()
        w, *derivatives = partials(
            u, x, (), *((i,) for i in space), *time, *((i, i) for i in space)
        )
        _check_velocity_pressure(name, w.shape, d, unsteady)
        grads = derivatives[:d]
        w_t = derivatives[d] if unsteady else None
        laplacian = functools.reduce(operator.add, derivatives[-d:])
        convection = functools.reduce(
            operator.add, (w[j] * grads[j][:d] for j in space)
        )
        pressure = jnp.stack([grads[i][d] for i in space])
        momentum = convection + pressure - viscosity * laplacian[:d]
        if w_t is not None:
            momentum = w_t[:d] + momentum
        momentum = momentum - _force_at(name, force, x, d)
        continuity = functools.reduce(operator.add, (grads[i][i] for i in space))
        return jnp.concatenate([momentum, continuity[None]])

    return residual


def stokes(u: PointFn, *, viscosity: Scalar, force: _Force | None = None) -> PointFn:
    r"""Steady Stokes flow: $r = (\nabla p - \nu\,\Delta \mathbf u - \mathbf f,\;
    \nabla \cdot \mathbf u)$, density 1.

    The creeping-flow limit of `navier_stokes` (no convection, no time), same
    layout: a field $w(x) = (u_1, \dots, u_d, p)$, $d = 2$ or $3$, on points
    $(x_1, \dots, x_d)$. The first derivatives and $\partial_{ii}$ of every
    component come from one `pinnlib.diff.partials` call.

    **Arguments:** `u`: the field, returning `(d + 1,)`; `viscosity`: $\nu$;
    `force`: `None` or a point function `f(x) -> (d,)` (keyword-only).

    **Returns:** the residual point function `r(x) -> (d + 1,)`: the $d$ momentum
    equations, then continuity.

    **Raises:** `ValueError` for a non-finite concrete `viscosity` or a
    non-callable `force`; at trace time, `ValueError` naming `pinnlib.pdes.stokes`
    when the field's output size is not 3 or 4, when the point dimension is not the
    field's $d$, or when the force's shape is not `(d,)`.

    !!! example

        ```python
        # lid-driven cavity: a field (u, v, p) on points (x, y), no body force
        r = pl.pdes.stokes(field, viscosity=1.0)
        jax.vmap(r)(points)                              # (n, 3)
        ```
    """
    name = "stokes"
    _coefficients(name, viscosity=viscosity)
    _check_force(name, force)

    def residual(x: Point):
        d = _flow_space(name, x, False, (2, 3))
        space = range(d)
        derivatives = partials(u, x, *((i,) for i in space), *((i, i) for i in space))
        grads, second = derivatives[:d], derivatives[d:]
        _check_velocity_pressure(name, grads[0].shape, d, False)
        laplacian = functools.reduce(operator.add, second)
        pressure = jnp.stack([grads[i][d] for i in space])
        momentum = pressure - viscosity * laplacian[:d] - _force_at(name, force, x, d)
        continuity = functools.reduce(operator.add, (grads[i][i] for i in space))
        return jnp.concatenate([momentum, continuity[None]])

    return residual


def navier_stokes_stream(
    u: PointFn,
    *,
    viscosity: Scalar,
    unsteady: bool = False,
    force: _Force | None = None,
) -> PointFn:
    r"""2-d incompressible Navier–Stokes in stream-function–pressure form.

    The field returns $(\psi, p)$; the velocity $(u, v) = (\partial_y \psi,
    -\partial_x \psi)$ is divergence-free by construction, so only the momentum
    equations remain:

    $$
    r_1 = [u_t] + u\,u_x + v\,u_y + p_x - \nu\,\Delta u - f_1, \qquad
    r_2 = [v_t] + u\,v_x + v\,v_y + p_y - \nu\,\Delta v - f_2,
    $$

    the time derivatives only when `unsteady`. These need third derivatives of
    $\psi$: one `pinnlib.diff.partials` call still gives them all, by nested
    `jax.jvp` (orders above 2 are not fused). This is the form of Raissi, Perdikaris
    & Karniadakis (2019, J. Comput. Phys. 378, 686–707) for the cylinder wake.

    **Arguments:**

    - `u`: the field, returning `(2,)`: $(\psi, p)$.
    - `viscosity`: the kinematic viscosity $\nu$ (keyword-only, as the rest).
    - `unsteady`: whether points are $(x, y, t)$ rather than $(x, y)$ (default
      `False`).
    - `force`: `None` or a point function `f(x) -> (2,)`.

    **Returns:** the residual point function `r(x) -> (2,)`: the two momentum
    equations.

    **Raises:** `ValueError` for a non-finite concrete `viscosity`, a non-bool
    `unsteady` or a non-callable `force`; at trace time, `ValueError` naming
    `pinnlib.pdes.navier_stokes_stream` when the field's output shape is not `(2,)`,
    the points are not 2-d (3-d when `unsteady`) or the force's shape is not `(2,)`.

    !!! example

        ```python
        # a field (psi, p) on points (x, y, t); velocity (psi_y, -psi_x)
        r = pl.pdes.navier_stokes_stream(field, viscosity=0.01, unsteady=True)
        jax.vmap(r)(points)                              # (n, 2)
        ```
    """
    name = "navier_stokes_stream"
    _coefficients(name, viscosity=viscosity)
    unsteady = _check_unsteady(name, unsteady)
    _check_force(name, force)

    def residual(x: Point):
        _flow_space(name, x, unsteady, (2,))
        time = ((0, 2), (1, 2)) if unsteady else ()
        d_x, d_y, d_xx, d_xy, d_yy, d_xxx, d_xxy, d_xyy, d_yyy, *d_t = partials(
            u,
            x,
            *((0,), (1,), (0, 0), (0, 1), (1, 1)),
            *((0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)),
            *time,
        )
        if d_x.shape != (2,):
            raise bad_argument(
                f"pinnlib.pdes.{name}(u=...)",
                "a field returning (psi, p): the stream function, then the pressure",
                f"output shape {d_x.shape}",
                "Build the network with out_size=2, or use pinnlib.pdes."
                "navier_stokes for a field (u, v, p).",
            )
        vel_u, vel_v = d_y[0], -d_x[0]
        u_x, u_y, v_x, v_y = d_xy[0], d_yy[0], -d_xx[0], -d_xy[0]
        lap_u = d_xxy[0] + d_yyy[0]
        lap_v = -(d_xxx[0] + d_xyy[0])
        m_u = vel_u * u_x + vel_v * u_y + d_x[1] - viscosity * lap_u
        m_v = vel_u * v_x + vel_v * v_y + d_y[1] - viscosity * lap_v
        if unsteady:
            psi_xt, psi_yt = d_t[0][0], d_t[1][0]
            m_u, m_v = psi_yt + m_u, m_v - psi_xt
        return jnp.stack([m_u, m_v]) - _force_at(name, force, x, 2)

    return residual
