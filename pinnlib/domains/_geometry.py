"""Domains: the sampling protocol; intervals, boxes and space-time cylinders."""

import abc
import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Real

from .._errors import bad_argument
from ._box import FaceTable, axis_faces, box_contains, box_points, faces_points

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
      [`contains`][], an `(n,)` boolean array for `(n, dim)` points.

    `key` is a PRNG key, `dtype` the float dtype of the points to return, and
    `sequence(n, k, *, key, dtype) -> (n, k)` draws points of the unit cube $[0, 1)^k$
    from the sequence chosen by `method=...`: map them onto the domain so that the
    method applies (or draw another way, e.g. by rejection). The samplers check each
    result's shape and dtype. A domain that lacks a sampler raises a `ValueError` at
    the call naming the missing method: pinnlib never samples a domain's bounding box
    in its place. [`Interval`][], [`Box`][] and [`SpaceTime`][] implement the protocol.

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


class SpaceTime(_AbstractBox):
    r"""The space-time cylinder $\Omega \times [t_0, t_1]$; time is the LAST coordinate.

    **Arguments:**

    - `space`: the spatial domain $\Omega$, an [`Interval`][] or a [`Box`][].
    - `t0`, `t1`: the time interval, $t_0 < t_1$.

    Points are $(x_0, \dots, x_{d-1}, t)$. Faces: the spatial faces of `space` (same
    names, for all $t$), `"initial"` ($t = t_0$) and `"final"` ($t = t_1$). The region
    `"boundary"` means the spatial faces only.

    **Raises:** `ValueError` when `space` is not an Interval or Box, or for bad times.

    !!! example
        ```python
        domain = SpaceTime(Interval(-1.0, 1.0), 0.0, 1.0)   # points (x, t)
        domain.dim   # 2
        ```
    """

    space: Interval | Box
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)

    def __init__(self, space: AbstractDomain, t0: _RealLike, t1: _RealLike):
        if not isinstance(space, Interval | Box):
            raise bad_argument(
                "pinnlib.domains.SpaceTime(space=...)",
                "an Interval or a Box",
                type(space).__name__,
                "Build the spatial part with Interval(...) or Box(...).",
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
        return self.space.lower + (self.t0,)

    @property
    def upper(self) -> tuple[float, ...]:
        """The space upper bounds, then `t1`."""
        return self.space.upper + (self.t1,)

    @property
    def _face_table(self) -> FaceTable:
        """The spatial faces (for all $t$), then `"initial"` and `"final"`."""
        return {
            **axis_faces(self.space.lower, self.space.upper),
            "initial": (self.dim - 1, self.t0),
            "final": (self.dim - 1, self.t1),
        }

    @property
    def _boundary_faces(self) -> tuple[str, ...]:
        return self.space.faces

    def sample_initial(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n d"]:
        """Points of the initial slice, the face `"initial"` ($t = t_0$)."""
        return self.sample_boundary(
            num_points, key=key, face="initial", sequence=sequence, dtype=dtype
        )
