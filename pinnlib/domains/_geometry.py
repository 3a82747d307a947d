"""Domains: the sampling protocol; intervals, boxes and space-time cylinders."""

import abc
import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Real

from .._errors import bad_argument
from ._box import (
    FaceTable,
    _measure as face_measure,
    axis_faces,
    box_contains,
    box_points,
    faces_points,
)
from ._distance import conjunction_all

_RealLike = Real[ArrayLike, ""] | float | int


def _corner(where: str, value: Any) -> tuple[float, ...]:
    """A 1-d sequence of bounds as Python floats, or a ``ValueError`` naming ``where``."""
    shape = np.shape(value)
    if len(shape) != 1 or shape[0] == 0:
        raise bad_argument(
            where,
            "a non-empty 1-d sequence of floats",
            value,
            "Pass one bound per coordinate, e.g. (0.0, 0.0); use Interval in 1-d.",
        )
    return tuple(_real(where, v) for v in value)


def _real(where: str, value) -> float:
    """``value`` as a Python float, or a ``ValueError`` naming ``where``."""
    if isinstance(value, bool | np.bool_):
        raise bad_argument(where, "a real number", value, "Pass a float such as 0.0.")
    try:
        return float(value)
    except Exception:  # tracers, arrays of size > 1, strings, ...
        raise bad_argument(
            where,
            "a concrete real number",
            value,
            "Domain bounds are static: pass Python floats, not traced or array values.",
        ) from None


def _check_bounds(
    where: str, lower: tuple[float, ...], upper: tuple[float, ...]
) -> None:
    for name, values in (("lower", lower), ("upper", upper)):
        if not all(math.isfinite(v) for v in values):
            raise bad_argument(
                f"{where}({name}=...)",
                "finite bounds",
                values,
                "Use a finite truncation of an unbounded domain.",
            )
    if not all(lo < hi for lo, hi in zip(lower, upper, strict=True)):
        raise bad_argument(
            f"{where}(lower=..., upper=...)",
            "lower < upper in every coordinate",
            (lower, upper),
            "Swap or widen the bounds so each lower is below its upper.",
        )


class AbstractDomain(eqx.Module):
    r"""A domain: its geometry, and how points are drawn in it and on its faces.

    Subclass it to define your own domain (a disk, an annulus, an L-shape, ...). The
    sampling functions ([`sample_interior`][], [`sample_boundary`][],
    [`sample_initial`][], [`sampler`][], [`contains`][]) check their arguments and then
    call the domain's own methods, the **domain protocol**:

    - `faces: tuple[str, ...]`: the names of the parts of the boundary that can be
      sampled alone (`face=...`, or a region of [`sampler`][]). Abstract here.
    - `sample_interior(num_points, *, key, sequence, dtype)`: `num_points` points of
      the domain, shape `(num_points, dim)`.
    - `sample_boundary(num_points, *, key, face, sequence, dtype)`: points on the
      face named `face` (one of `faces`), or on the whole boundary for `face=None`.
    - `sample_initial(num_points, *, key, sequence, dtype)`, optional: points on the
      initial slice $t = t_0$ of a time-dependent domain; the region `"initial"`
      exists only when it is defined.
    - `contains(points, *, atol)`, optional: the membership test behind
      [`contains`][], an `(n,)` boolean array for `(n, dim)` points: inside, or within
      `atol` of the boundary (a negative `atol` asks for points at least `-atol`
      deep inside).
    - `distance(x)`, optional: for ONE point `x` of shape `(dim,)`, an approximate
      signed distance $\phi(x)$ (shape `()`), behind [`distance`][]: positive inside,
      exactly zero on the boundary, negative outside, smooth inside, with
      $\nabla\phi = -n$ on the boundary (the approximate distance functions of
      Sukumar & Srivastava 2022, CMAME 389:114333), differentiable twice without NaN,
      also on the boundary and at corners. It serves hard boundary conditions
      $u = g + \phi N$.
    - `normal(x)`, optional: the outward unit normal at ONE boundary point, shape
      `(dim,)`, behind [`normals`][].
    - `boundary_measure`, optional: a property, the length (area, ...) of the whole
      boundary as a Python float; [`Union`][] and friends use it to split points
      between operands.

    `key` is a PRNG key, `dtype` the float dtype of the points to return, and
    `sequence(n, k, *, key, dtype) -> (n, k)` draws points of the unit cube $[0, 1)^k$
    from the sequence chosen by `method=...`: map them onto the domain so that the
    method applies (or draw another way, e.g. by rejection). The samplers check each
    result's shape and dtype. A domain that lacks a sampler raises a `ValueError` at
    the call naming the missing method: pinnlib never samples a domain's bounding box
    in its place. [`Interval`][], [`Box`][], [`SpaceTime`][], [`Disk`][],
    [`Ellipse`][], [`Annulus`][], [`Polygon`][] and the set operations implement the
    whole protocol.

    Domains combine with set operators: `a | b` is [`Union`][], `a & b`
    [`Intersection`][] and `a - b` [`Difference`][] (for domains with the optional
    methods above).

    Every domain also has `lower` and `upper`, the corners of its bounding box (tuples
    of floats, used to scale inputs, e.g. by `pinnlib.nn.Normalize`), and `dim`. Keep
    the fields static Python values (`eqx.field(static=True)`) so that a domain is a
    hashable pytree without array leaves.

    !!! example
        ```python
        class Disk(AbstractDomain):
            radius: float = eqx.field(static=True)
            lower = property(lambda self: (-self.radius, -self.radius))
            upper = property(lambda self: (self.radius, self.radius))
            faces = ("circle",)

            def sample_interior(self, num_points, *, key, sequence, dtype):
                u = sequence(num_points, 2, key=key, dtype=dtype)
                r, theta = self.radius * jnp.sqrt(u[:, 0]), 2 * jnp.pi * u[:, 1]
                return jnp.stack([r * jnp.cos(theta), r * jnp.sin(theta)], axis=1)

            def sample_boundary(self, num_points, *, key, face, sequence, dtype):
                theta = 2 * jnp.pi * sequence(num_points, 1, key=key, dtype=dtype)
                return self.radius * jnp.concatenate(
                    [jnp.cos(theta), jnp.sin(theta)], axis=1)

        draw = sampler(Disk(1.0), pde=("interior", 1000), bc=("boundary", 200))
        ```
    """

    lower: eqx.AbstractVar[tuple[float, ...]]
    upper: eqx.AbstractVar[tuple[float, ...]]

    @property
    def dim(self) -> int:
        """The number of coordinates of a point."""
        return len(self.lower)

    @property
    @abc.abstractmethod
    def faces(self) -> tuple[str, ...]:
        """The names of the faces of the domain."""

    def __or__(self, other: Any) -> "AbstractDomain":
        """`a | b`: the [`Union`][] of two domains."""
        from ._csg import Union

        return Union(self, other)

    def __and__(self, other: Any) -> "AbstractDomain":
        """`a & b`: the [`Intersection`][] of two domains."""
        from ._csg import Intersection

        return Intersection(self, other)

    def __sub__(self, other: Any) -> "AbstractDomain":
        """`a - b`: the [`Difference`][] of two domains."""
        from ._csg import Difference

        return Difference(self, other)


class _AbstractBox(AbstractDomain):
    """An axis-aligned domain: each face fixes one coordinate at a bound.

    Implements the domain protocol for [`Interval`][], [`Box`][] and [`SpaceTime`][]:
    the sequence is mapped affinely onto the box, and onto each face in the face's own
    coordinates with its fixed coordinate set exactly to the bound.
    """

    @property
    @abc.abstractmethod
    def _face_table(self) -> FaceTable:
        """Face name -> (the axis it fixes, the value there)."""

    @property
    @abc.abstractmethod
    def _boundary_faces(self) -> tuple[str, ...]:
        """The faces that make up the region ``"boundary"``."""

    @property
    def faces(self) -> tuple[str, ...]:
        """The face names, `("x0_lower", "x0_upper", "x1_lower", ...)` first."""
        return tuple(self._face_table)

    def sample_interior(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n d"]:
        """The sequence's unit-cube points mapped affinely onto the box."""
        return box_points(self.lower, self.upper, num_points, key, sequence, dtype)

    def sample_boundary(
        self, num_points: int, *, key: PRNGKeyArray, face: str | None, sequence, dtype
    ) -> Float[Array, "n d"]:
        """Points on `face`, or split over the boundary faces by their measure."""
        names = self._boundary_faces if face is None else (face,)
        table = {name: self._face_table[name] for name in names}
        return faces_points(
            self.lower, self.upper, table, num_points, key, sequence, dtype
        )

    def contains(
        self, points: Float[Array, "n d"], *, atol: float
    ) -> Bool[Array, " n"]:
        r"""$a_i - \mathrm{atol} \le x_i \le b_i + \mathrm{atol}$ for every coordinate."""
        return box_contains(self.lower, self.upper, points, atol)

    @property
    def boundary_measure(self) -> float:
        """The total measure of the faces (the number of end points in 1-d)."""
        table = axis_faces(self.lower, self.upper)
        return sum(face_measure(self.lower, self.upper, a) for a, _ in table.values())

    def distance(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        r"""The R-conjunction of the $2d$ half-spaces $x_i - a_i$ and $b_i - x_i$."""
        lo = jnp.asarray(self.lower, x.dtype)
        hi = jnp.asarray(self.upper, x.dtype)
        return conjunction_all(
            [v for i in range(self.dim) for v in (x[i] - lo[i], hi[i] - x[i])]
        )

    def normal(self, x: Float[Array, " d"]) -> Float[Array, " d"]:
        r"""The outward normal $\mp e_i$ of the nearest face."""
        lo = jnp.asarray(self.lower, x.dtype)
        hi = jnp.asarray(self.upper, x.dtype)
        k = jnp.argmin(jnp.concatenate([x - lo, hi - x]))
        sign = jnp.where(k < self.dim, -1, 1).astype(x.dtype)
        return sign * jax.nn.one_hot(k % self.dim, self.dim, dtype=x.dtype)


class Box(_AbstractBox):
    r"""The box $\prod_i [a_i, b_i]$ in any dimension $d \ge 1$.

    **Arguments:**

    - `lower`: the lower corner $(a_0, \dots, a_{d-1})$, a sequence of floats.
    - `upper`: the upper corner $(b_0, \dots, b_{d-1})$, with $a_i < b_i$.

    Faces are named `"x{i}_lower"` ($x_i = a_i$) and `"x{i}_upper"` ($x_i = b_i$).

    **Raises:** `ValueError` for mismatched lengths, non-finite bounds or
    `lower >= upper`.

    !!! example
        ```python
        square = Box((0.0, 0.0), (1.0, 1.0))
        square.faces   # ('x0_lower', 'x0_upper', 'x1_lower', 'x1_upper')
        ```
    """

    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self,
        lower: Sequence[_RealLike] | Real[ArrayLike, " d"],
        upper: Sequence[_RealLike] | Real[ArrayLike, " d"],
    ):
        where = "pinnlib.domains.Box"
        corners = [
            _corner(f"{where}({name}=...)", value)
            for name, value in (("lower", lower), ("upper", upper))
        ]
        if len(corners[0]) != len(corners[1]):
            raise bad_argument(
                f"{where}(lower=..., upper=...)",
                "bounds of the same length",
                (len(corners[0]), len(corners[1])),
                "Give one lower and upper per axis.",
            )
        self.lower, self.upper = corners

    def __check_init__(self):
        _check_bounds("pinnlib.domains.Box", self.lower, self.upper)

    @property
    def _face_table(self) -> FaceTable:
        return axis_faces(self.lower, self.upper)

    @property
    def _boundary_faces(self) -> tuple[str, ...]:
        return self.faces


class Interval(_AbstractBox):
    r"""The interval $[a, b]$, a 1-d domain with faces `"x0_lower"` and `"x0_upper"`.

    **Arguments:**

    - `lower`: the left end $a$ (a float).
    - `upper`: the right end $b > a$.

    `lower` and `upper` are stored as 1-tuples, like a [`Box`][].

    **Raises:** `ValueError` for non-finite bounds or `lower >= upper`.

    !!! example
        ```python
        Interval(-1.0, 1.0).lower   # (-1.0,)
        ```
    """

    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, lower: _RealLike, upper: _RealLike):
        self.lower = (_real("pinnlib.domains.Interval(lower=...)", lower),)
        self.upper = (_real("pinnlib.domains.Interval(upper=...)", upper),)

    def __check_init__(self):
        _check_bounds("pinnlib.domains.Interval", self.lower, self.upper)

    @property
    def _face_table(self) -> FaceTable:
        return axis_faces(self.lower, self.upper)

    @property
    def _boundary_faces(self) -> tuple[str, ...]:
        return self.faces


class SpaceTime(AbstractDomain):
    r"""The space-time cylinder $\Omega \times [t_0, t_1]$; time is the LAST coordinate.

    **Arguments:**

    - `space`: the spatial domain $\Omega$: an [`Interval`][], a [`Box`][], or any
      domain with `sample_interior` and `sample_boundary` ([`Disk`][],
      [`Polygon`][], a [`Difference`][], your own, ...), but not a SpaceTime.
    - `t0`, `t1`: the time interval, $t_0 < t_1$.

    Points are $(x_0, \dots, x_{d-1}, t)$. Faces: the spatial faces of `space` (same
    names, for all $t$), `"initial"` ($t = t_0$) and `"final"` ($t = t_1$). The region
    `"boundary"` means the spatial faces only, $\partial\Omega \times [t_0, t_1]$.

    For an Interval or Box the cylinder is a box: the sequence is mapped affinely onto
    it and onto each face. For any other space, interior points are the space's
    interior points with times from an independent 1-d draw of the sequence (another
    key); boundary points are the space's boundary points with such times; the
    initial and final slices are the space's interior points at $t_0$ or $t_1$.
    `distance(x)` and `normal(x)` are the spatial ones, $\phi(x_{:d})$ and
    $(n(x_{:d}), 0)$, for spatial boundary conditions.

    **Raises:** `ValueError` when `space` is a SpaceTime or lacks a sampler, has a face
    named `"initial"` or `"final"`, or for bad times.

    !!! example
        ```python
        domain = SpaceTime(Interval(-1.0, 1.0), 0.0, 1.0)   # points (x, t)
        domain.dim   # 2
        cylinder = SpaceTime(Disk((0.0, 0.0), 1.0), 0.0, 1.0)   # points (x, y, t)
        ```
    """

    space: Any
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)

    def __init__(self, space: AbstractDomain, t0: _RealLike, t1: _RealLike):
        where = "pinnlib.domains.SpaceTime(space=...)"
        if isinstance(space, SpaceTime) or not isinstance(space, AbstractDomain):
            raise bad_argument(
                where,
                "a spatial domain (an Interval, a Box, a Disk, ...), not a SpaceTime",
                type(space).__name__,
                "Build the spatial part with Interval(...), Box(...), Disk(...), ...",
            )
        for name in ("sample_interior", "sample_boundary"):
            if not callable(getattr(space, name, None)):
                raise bad_argument(
                    where,
                    f"a spatial domain with the method {name}",
                    type(space).__name__,
                    "See AbstractDomain for the domain protocol.",
                )
        if {"initial", "final"} & set(space.faces):
            raise bad_argument(
                where,
                "a space without faces named 'initial' or 'final'",
                space.faces,
                "Rename the spatial faces: these names are the time slices.",
            )
        self.space = space
        self.t0 = _real("pinnlib.domains.SpaceTime(t0=...)", t0)
        self.t1 = _real("pinnlib.domains.SpaceTime(t1=...)", t1)

    def __check_init__(self):
        if not (
            math.isfinite(self.t0) and math.isfinite(self.t1) and self.t0 < self.t1
        ):
            raise bad_argument(
                "pinnlib.domains.SpaceTime(t0=..., t1=...)",
                "finite times with t0 < t1",
                (self.t0, self.t1),
                "Pass the start time first, e.g. SpaceTime(space, 0.0, 1.0).",
            )

    @property
    def lower(self) -> tuple[float, ...]:
        """The space lower bounds, then `t0`."""
        return tuple(self.space.lower) + (self.t0,)

    @property
    def upper(self) -> tuple[float, ...]:
        """The space upper bounds, then `t1`."""
        return tuple(self.space.upper) + (self.t1,)

    @property
    def faces(self) -> tuple[str, ...]:
        """The spatial faces (for all $t$), then `"initial"` and `"final"`."""
        return tuple(self.space.faces) + ("initial", "final")

    @property
    def _is_box(self) -> bool:
        return isinstance(self.space, Interval | Box)

    @property
    def _face_table(self) -> FaceTable:
        """The spatial faces (for all $t$), then `"initial"` and `"final"`."""
        return {
            **axis_faces(self.space.lower, self.space.upper),
            "initial": (self.dim - 1, self.t0),
            "final": (self.dim - 1, self.t1),
        }

    def _times(self, num_points: int, key, sequence, dtype, value=None) -> Array:
        """A column of times: `value`, or drawn from the sequence over [t0, t1]."""
        if value is not None:
            return jnp.full((num_points, 1), value, dtype)
        return box_points((self.t0,), (self.t1,), num_points, key, sequence, dtype)

    def sample_interior(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n d"]:
        """The box mapped affinely, or space points with independent times."""
        if self._is_box:
            return box_points(self.lower, self.upper, num_points, key, sequence, dtype)
        kx, kt = jax.random.split(key)
        x = self.space.sample_interior(
            num_points, key=kx, sequence=sequence, dtype=dtype
        )
        t = self._times(num_points, kt, sequence, dtype)
        return jnp.concatenate([x, t], axis=1)

    def sample_boundary(
        self, num_points: int, *, key: PRNGKeyArray, face: str | None, sequence, dtype
    ) -> Float[Array, "n d"]:
        """Points on `face`, or on the spatial boundary for `face=None`."""
        if self._is_box:
            names = self.space.faces if face is None else (face,)
            table = {name: self._face_table[name] for name in names}
            return faces_points(
                self.lower, self.upper, table, num_points, key, sequence, dtype
            )
        if face in ("initial", "final"):
            x = self.space.sample_interior(
                num_points, key=key, sequence=sequence, dtype=dtype
            )
            value = self.t0 if face == "initial" else self.t1
            t = self._times(num_points, None, sequence, dtype, value)
        else:
            kx, kt = jax.random.split(key)
            x = self.space.sample_boundary(
                num_points, key=kx, face=face, sequence=sequence, dtype=dtype
            )
            t = self._times(num_points, kt, sequence, dtype)
        return jnp.concatenate([x, t], axis=1)

    def sample_initial(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n d"]:
        """Points of the initial slice, the face `"initial"` ($t = t_0$)."""
        return self.sample_boundary(
            num_points, key=key, face="initial", sequence=sequence, dtype=dtype
        )

    def contains(
        self, points: Float[Array, "n d"], *, atol: float
    ) -> Bool[Array, " n"]:
        r"""The space's test on $x_{:d}$, and $t_0 - \mathrm{atol} \le t \le t_1 +
        \mathrm{atol}$."""
        if self._is_box:
            return box_contains(self.lower, self.upper, points, atol)
        t = points[:, -1]
        inside = self.space.contains(points[:, :-1], atol=atol)  # pyright: ignore
        return inside & (t >= self.t0 - atol) & (t <= self.t1 + atol)

    @property
    def boundary_measure(self) -> float:
        r"""The measure of the region `"boundary"`, $|\partial\Omega| (t_1 - t_0)$."""
        return self.space.boundary_measure * (self.t1 - self.t0)  # pyright: ignore

    def distance(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        r"""The spatial distance function $\phi(x_{:d})$ (for spatial conditions)."""
        return self.space.distance(x[:-1])  # pyright: ignore

    def normal(self, x: Float[Array, " d"]) -> Float[Array, " d"]:
        r"""The spatial outward normal with a zero time component, $(n(x_{:d}), 0)$."""
        n = self.space.normal(x[:-1])  # pyright: ignore
        return jnp.concatenate([n, jnp.zeros((1,), n.dtype)])
