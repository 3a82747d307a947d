r"""Curved 2-d primitives: disks, ellipses and annuli, with distance functions."""

import functools
import math
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Real

from .._errors import bad_argument
from ._distance import r_conjunction, safe_sqrt
from ._geometry import AbstractDomain, _real

_RealLike = Real[ArrayLike, ""] | float | int
_PointLike = Sequence[_RealLike] | Real[ArrayLike, " 2"]


def point2(where: str, value) -> tuple[float, float]:
    """A finite 2-d point as Python floats, or a ``ValueError`` naming ``where``."""
    if np.shape(value) != (2,):
        raise bad_argument(
            where,
            "a point (x, y) of two floats",
            value,
            "These shapes are 2-d: pass e.g. (0.0, 0.0).",
        )
    point = (_real(where, value[0]), _real(where, value[1]))
    if not all(math.isfinite(v) for v in point):
        raise bad_argument(where, "finite coordinates", point, "Pass finite floats.")
    return point


def positive(where: str, value) -> float:
    """A finite positive Python float, or a ``ValueError`` naming ``where``."""
    v = _real(where, value)
    if not (math.isfinite(v) and v > 0):
        raise bad_argument(where, "a finite positive number", v, "Pass e.g. 1.0.")
    return v


def unit(v: Array) -> Array:
    """``v / |v|``, NaN-free (the first axis where ``v`` is zero)."""
    norm = safe_sqrt(jnp.sum(v**2))
    fallback = jnp.zeros_like(v).at[0].set(1)
    return jnp.where(norm > 0, v / jnp.where(norm > 0, norm, 1), fallback)


def circle_points(centre, radius, theta: Array, dtype) -> Array:
    """Points ``centre + radius (cos theta, sin theta)`` (radius scalar or per point)."""
    xy = jnp.stack([radius * jnp.cos(theta), radius * jnp.sin(theta)], axis=1)
    return jnp.asarray(centre, dtype)[None, :] + xy


def _offset(centre, x: Array) -> Array:
    return x - jnp.asarray(centre, x.dtype)


def _radii(centre, points: Array) -> Array:
    """``|x - centre|`` for each row of ``points``."""
    offset = points - jnp.asarray(centre, points.dtype)[None, :]
    return jnp.sqrt(jnp.sum(offset**2, axis=1))


class Disk(AbstractDomain):
    r"""The disk $|x - c| \le R$ in 2-d; its one face is `"circle"`.

    Interior points are $c + r(\cos\theta, \sin\theta)$ with $r = R\sqrt{u_0}$,
    $\theta = 2\pi u_1$ (uniform in area for uniform $u$), boundary points have
    $\theta = 2\pi u$, so every sequence of `method=` applies. The distance function
    is $\phi(x) = (R^2 - |x - c|^2) / (2R)$: positive inside, zero on the circle, with
    $\nabla\phi = -n$ there (Sukumar & Srivastava 2022).

    **Arguments:**

    - `centre`: the centre $c$, a pair of floats.
    - `radius`: $R > 0$.

    **Raises:** `ValueError` for a non-finite centre or a radius that is not a finite
    positive number.

    !!! example
        ```python
        disk = Disk((0.0, 0.0), 1.0)
        x = sample_interior(disk, 100, key=jax.random.key(0), method="sobol")
        ```
    """

    centre: tuple[float, float] = eqx.field(static=True)
    radius: float = eqx.field(static=True)

    def __init__(self, centre: _PointLike, radius: _RealLike):
        self.centre = point2("pinnlib.domains.Disk(centre=...)", centre)
        self.radius = positive("pinnlib.domains.Disk(radius=...)", radius)

    @property
    def lower(self) -> tuple[float, ...]:
        """The bounding box's lower corner, `centre - radius`."""
        return tuple(c - self.radius for c in self.centre)

    @property
    def upper(self) -> tuple[float, ...]:
        """The bounding box's upper corner, `centre + radius`."""
        return tuple(c + self.radius for c in self.centre)

    @property
    def faces(self) -> tuple[str, ...]:
        """`("circle",)`."""
        return ("circle",)

    @property
    def boundary_measure(self) -> float:
        r"""The circumference $2\pi R$."""
        return 2 * math.pi * self.radius

    def sample_interior(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n 2"]:
        """$r = R\\sqrt{u_0}$, $\\theta = 2\\pi u_1$."""
        u = sequence(num_points, 2, key=key, dtype=dtype)
        r = self.radius * jnp.sqrt(u[:, 0])
        return circle_points(self.centre, r, 2 * jnp.pi * u[:, 1], dtype)

    def sample_boundary(
        self, num_points: int, *, key: PRNGKeyArray, face: str | None, sequence, dtype
    ) -> Float[Array, "n 2"]:
        r"""$\theta = 2\pi u$ on the circle."""
        u = sequence(num_points, 1, key=key, dtype=dtype)
        return circle_points(self.centre, self.radius, 2 * jnp.pi * u[:, 0], dtype)

    def contains(
        self, points: Float[Array, "n 2"], *, atol: float
    ) -> Bool[Array, " n"]:
        r"""$|x - c| \le R + \mathrm{atol}$."""
        return _radii(self.centre, points) <= self.radius + atol

    def distance(self, x: Float[Array, " 2"]) -> Float[Array, ""]:
        r"""$\phi(x) = (R^2 - |x - c|^2) / (2R)$."""
        v = _offset(self.centre, x)
        return (self.radius**2 - jnp.sum(v**2)) / (2 * self.radius)

    def normal(self, x: Float[Array, " 2"]) -> Float[Array, " 2"]:
        r"""The outward normal $(x - c) / |x - c|$."""
        return unit(_offset(self.centre, x))


@functools.lru_cache(maxsize=64)
def _ellipse_table(a: float, b: float, size: int = 4096) -> tuple[np.ndarray, ...]:
    r"""Arc length $s(\theta_j)$ at $\theta_j = 2\pi j/N$, $j = 0..N$ (3-point Gauss)."""
    theta = np.linspace(0.0, 2 * np.pi, size + 1)
    h = theta[1] - theta[0]
    nodes = np.array([-math.sqrt(0.6), 0.0, math.sqrt(0.6)])
    weights = np.array([5.0, 8.0, 5.0]) / 18.0
    t = theta[:-1, None] + h * (1 + nodes[None, :]) / 2
    speed = np.sqrt((a * np.sin(t)) ** 2 + (b * np.cos(t)) ** 2)
    arc = np.concatenate([[0.0], np.cumsum(h * speed @ weights)])
    return arc, theta


class Ellipse(AbstractDomain):
    r"""The axis-aligned ellipse $((x - c_0)/a)^2 + ((y - c_1)/b)^2 \le 1$ in 2-d.

    Its one face is `"ellipse"`. Interior points are the [`Disk`][]'s map scaled by
    $(a, b)$ (an affine map keeps a uniform density). Boundary points are
    $c + (a\cos\theta, b\sin\theta)$, uniform **by arc length**: the arc length
    $s(\theta)$ is tabulated once (4096 intervals, 3-point Gauss) and $u L$ is mapped
    to $\theta$ by linear interpolation, $L$ the perimeter.

    The distance function is Rvachev's normalisation of
    $\omega = 1 - ((x - c_0)/a)^2 - ((y - c_1)/b)^2$,
    $\phi = \omega / \sqrt{\omega^2 + |\nabla\omega|^2}$ (Shapiro 2007; Sukumar &
    Srivastava 2022, eq. 7): smooth, zero on the ellipse with $\nabla\phi = -n$ there.

    **Arguments:**

    - `centre`: the centre $c$, a pair of floats.
    - `semi_axes`: $(a, b)$, both finite and positive.

    **Raises:** `ValueError` for a non-finite centre or bad semi-axes.

    !!! example
        ```python
        ellipse = Ellipse((0.0, 0.0), (2.0, 1.0))
        x = sample_boundary(ellipse, 64, key=jax.random.key(0))  # uniform by length
        ```
    """

    centre: tuple[float, float] = eqx.field(static=True)
    semi_axes: tuple[float, float] = eqx.field(static=True)

    def __init__(self, centre: _PointLike, semi_axes: _PointLike):
        where = "pinnlib.domains.Ellipse(semi_axes=...)"
        self.centre = point2("pinnlib.domains.Ellipse(centre=...)", centre)
        axes = point2(where, semi_axes)
        self.semi_axes = (positive(where, axes[0]), positive(where, axes[1]))

    @property
    def lower(self) -> tuple[float, ...]:
        """The bounding box's lower corner, `centre - semi_axes`."""
        return tuple(c - s for c, s in zip(self.centre, self.semi_axes, strict=True))

    @property
    def upper(self) -> tuple[float, ...]:
        """The bounding box's upper corner, `centre + semi_axes`."""
        return tuple(c + s for c, s in zip(self.centre, self.semi_axes, strict=True))

    @property
    def faces(self) -> tuple[str, ...]:
        """`("ellipse",)`."""
        return ("ellipse",)

    @property
    def boundary_measure(self) -> float:
        """The perimeter (from the arc-length table)."""
        return float(_ellipse_table(*self.semi_axes)[0][-1])

    def _scaled(self, r: Array, theta: Array, dtype) -> Array:
        axes = jnp.asarray(self.semi_axes, dtype)[None, :]
        centre = jnp.asarray(self.centre, dtype)[None, :]
        return centre + axes * circle_points((0.0, 0.0), r, theta, dtype)

    def sample_interior(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n 2"]:
        """The disk's $r = \\sqrt{u_0}$, $\\theta = 2\\pi u_1$, scaled by $(a, b)$."""
        u = sequence(num_points, 2, key=key, dtype=dtype)
        return self._scaled(jnp.sqrt(u[:, 0]), 2 * jnp.pi * u[:, 1], dtype)

    def sample_boundary(
        self, num_points: int, *, key: PRNGKeyArray, face: str | None, sequence, dtype
    ) -> Float[Array, "n 2"]:
        r"""$\theta = s^{-1}(uL)$: uniform by arc length."""
        arc, theta = _ellipse_table(*self.semi_axes)
        u = sequence(num_points, 1, key=key, dtype=dtype)[:, 0]
        s = u * jnp.asarray(arc[-1], dtype)
        t = jnp.interp(s, jnp.asarray(arc, dtype), jnp.asarray(theta, dtype))
        return self._scaled(jnp.ones_like(t), t, dtype)

    def _omega(self, v: Array) -> tuple[Array, Array]:
        """$\\omega$ and $|\\nabla\\omega|^2$ at the offset ``v = x - c``."""
        a, b = self.semi_axes
        omega = 1 - (v[..., 0] / a) ** 2 - (v[..., 1] / b) ** 2
        grad2 = (2 * v[..., 0] / a**2) ** 2 + (2 * v[..., 1] / b**2) ** 2
        return omega, grad2

    def contains(
        self, points: Float[Array, "n 2"], *, atol: float
    ) -> Bool[Array, " n"]:
        r"""$\phi(x) \ge -\mathrm{atol}$ ($\phi$ is about the distance near the ellipse)."""
        omega, grad2 = self._omega(
            points - jnp.asarray(self.centre, points.dtype)[None, :]
        )
        return omega / jnp.sqrt(omega**2 + grad2) >= -atol

    def distance(self, x: Float[Array, " 2"]) -> Float[Array, ""]:
        r"""$\phi = \omega / \sqrt{\omega^2 + |\nabla\omega|^2}$."""
        omega, grad2 = self._omega(_offset(self.centre, x))
        return omega / jnp.sqrt(omega**2 + grad2)

    def normal(self, x: Float[Array, " 2"]) -> Float[Array, " 2"]:
        r"""The outward normal $-\nabla\omega / |\nabla\omega|$."""
        v = _offset(self.centre, x)
        a, b = self.semi_axes
        return unit(jnp.stack([v[0] / a**2, v[1] / b**2]))


class Annulus(AbstractDomain):
    r"""The annulus $r_1 \le |x - c| \le r_2$ in 2-d; faces `"inner"` and `"outer"`.

    Interior points have $r = \sqrt{r_1^2 + u_0 (r_2^2 - r_1^2)}$ and
    $\theta = 2\pi u_1$ (uniform in area). Boundary points map one coordinate over the
    total length $2\pi(r_1 + r_2)$: the first $2\pi r_1$ to the inner circle, the rest
    to the outer, so both circles are uniform by length. The distance function is the
    R-conjunction ([`r_conjunction`][]) of the outer disk's
    $(r_2^2 - |x - c|^2)/(2 r_2)$ and the inner circle's outside function
    $(|x - c|^2 - r_1^2)/(2 r_1)$.

    **Arguments:**

    - `centre`: the centre $c$, a pair of floats.
    - `inner`, `outer`: the radii, $0 < r_1 < r_2$.

    **Raises:** `ValueError` for a non-finite centre, non-positive radii or
    `inner >= outer`.

    !!! example
        ```python
        ring = Annulus((0.0, 0.0), 0.5, 1.0)
        draw = sampler(ring, pde=("interior", 256), hole=("inner", 32))
        ```
    """

    centre: tuple[float, float] = eqx.field(static=True)
    inner: float = eqx.field(static=True)
    outer: float = eqx.field(static=True)

    def __init__(self, centre: _PointLike, inner: _RealLike, outer: _RealLike):
        where = "pinnlib.domains.Annulus"
        self.centre = point2(f"{where}(centre=...)", centre)
        self.inner = positive(f"{where}(inner=...)", inner)
        self.outer = positive(f"{where}(outer=...)", outer)
        if not self.inner < self.outer:
            raise bad_argument(
                f"{where}(inner=..., outer=...)",
                "inner < outer",
                (self.inner, self.outer),
                "Pass the smaller radius first; use Disk for no hole.",
            )

    @property
    def lower(self) -> tuple[float, ...]:
        """The bounding box's lower corner, `centre - outer`."""
        return tuple(c - self.outer for c in self.centre)

    @property
    def upper(self) -> tuple[float, ...]:
        """The bounding box's upper corner, `centre + outer`."""
        return tuple(c + self.outer for c in self.centre)

    @property
    def faces(self) -> tuple[str, ...]:
        """`("inner", "outer")`."""
        return ("inner", "outer")

    @property
    def boundary_measure(self) -> float:
        r"""$2\pi(r_1 + r_2)$."""
        return 2 * math.pi * (self.inner + self.outer)

    def sample_interior(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n 2"]:
        r"""$r = \sqrt{r_1^2 + u_0(r_2^2 - r_1^2)}$, $\theta = 2\pi u_1$."""
        u = sequence(num_points, 2, key=key, dtype=dtype)
        r1, r2 = self.inner, self.outer
        r = jnp.clip(jnp.sqrt(r1**2 + u[:, 0] * (r2**2 - r1**2)), r1, r2)
        return circle_points(self.centre, r, 2 * jnp.pi * u[:, 1], dtype)

    def sample_boundary(
        self, num_points: int, *, key: PRNGKeyArray, face: str | None, sequence, dtype
    ) -> Float[Array, "n 2"]:
        """One coordinate over both circles by length, or over one face."""
        u = sequence(num_points, 1, key=key, dtype=dtype)[:, 0]
        if face is not None:
            radius = self.inner if face == "inner" else self.outer
            return circle_points(self.centre, radius, 2 * jnp.pi * u, dtype)
        s = u * (2 * jnp.pi * (self.inner + self.outer))
        on_inner = s < 2 * jnp.pi * self.inner
        radius = jnp.where(on_inner, self.inner, self.outer).astype(dtype)
        theta = jnp.where(on_inner, s, s - 2 * jnp.pi * self.inner) / radius
        return circle_points(self.centre, radius, theta, dtype)

    def contains(
        self, points: Float[Array, "n 2"], *, atol: float
    ) -> Bool[Array, " n"]:
        r"""$r_1 - \mathrm{atol} \le |x - c| \le r_2 + \mathrm{atol}$."""
        r = _radii(self.centre, points)
        return (r >= self.inner - atol) & (r <= self.outer + atol)

    def distance(self, x: Float[Array, " 2"]) -> Float[Array, ""]:
        """The R-conjunction of the outer disk's and the hole's distance functions."""
        r2 = jnp.sum(_offset(self.centre, x) ** 2)
        outer = (self.outer**2 - r2) / (2 * self.outer)
        inner = (r2 - self.inner**2) / (2 * self.inner)
        return r_conjunction(outer, inner)

    def normal(self, x: Float[Array, " 2"]) -> Float[Array, " 2"]:
        """Outward: away from the centre on the outer circle, towards it on the inner."""
        v = _offset(self.centre, x)
        r = safe_sqrt(jnp.sum(v**2))
        sign = jnp.where(
            jnp.abs(r - self.inner) < jnp.abs(r - self.outer), -1.0, 1.0
        ).astype(x.dtype)
        return sign * unit(v)
