"""Geometry: intervals, boxes and space-time cylinders, with named faces."""

import abc
import math
from collections.abc import Sequence

import equinox as eqx
import numpy as np
from jaxtyping import ArrayLike, Real

from .._errors import bad_argument

_RealLike = Real[ArrayLike, ""] | float | int


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
    """A closed axis-aligned domain; points are rows of coordinates.

    Concrete domains are [`Interval`][], [`Box`][] and [`SpaceTime`][]. Their bounds are
    static Python floats, so a domain is a pytree without array leaves. Every domain
    has `lower` and `upper` (tuples of floats), `dim` and `faces`.

    !!! example
        ```python
        def volume(domain: AbstractDomain) -> float:
            return math.prod(b - a for a, b in zip(domain.lower, domain.upper))
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


def _axis_faces(d: int) -> tuple[str, ...]:
    return tuple(f"x{i}_{side}" for i in range(d) for side in ("lower", "upper"))


class Box(AbstractDomain):
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
        corners = []
        for name, value in (("lower", lower), ("upper", upper)):
            shape = np.shape(value)
            if len(shape) != 1 or shape[0] == 0:
                raise bad_argument(
                    f"{where}({name}=...)",
                    "a non-empty 1-d sequence of floats",
                    value,
                    "Pass one bound per coordinate, e.g. (0.0, 0.0); "
                    "use Interval in 1-d.",
                )
            corners.append(tuple(_real(f"{where}({name}=...)", v) for v in value))
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
    def faces(self) -> tuple[str, ...]:
        """`("x0_lower", "x0_upper", "x1_lower", ...)`."""
        return _axis_faces(self.dim)


class Interval(AbstractDomain):
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
    def faces(self) -> tuple[str, ...]:
        """`("x0_lower", "x0_upper")`."""
        return _axis_faces(1)


class SpaceTime(AbstractDomain):
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
    def faces(self) -> tuple[str, ...]:
        """The spatial faces, then `"initial"` and `"final"`."""
        return self.space.faces + ("initial", "final")


def face_table(domain: AbstractDomain) -> dict[str, tuple[int, float]]:
    """Face name -> (the axis it fixes, the value there)."""
    if isinstance(domain, SpaceTime):
        return {
            **face_table(domain.space),
            "initial": (domain.dim - 1, domain.t0),
            "final": (domain.dim - 1, domain.t1),
        }
    table = {}
    for i in range(domain.dim):
        table[f"x{i}_lower"] = (i, domain.lower[i])
        table[f"x{i}_upper"] = (i, domain.upper[i])
    return table


def boundary_faces(domain: AbstractDomain) -> tuple[str, ...]:
    """The faces of the region ``"boundary"`` (only the spatial ones for SpaceTime)."""
    return domain.space.faces if isinstance(domain, SpaceTime) else domain.faces


def face_measure(domain: AbstractDomain, face: str) -> float:
    """The (d-1)-dimensional measure of a face (1 for the end points of an interval)."""
    axis, _ = face_table(domain)[face]
    return float(
        math.prod(
            hi - lo
            for k, (lo, hi) in enumerate(zip(domain.lower, domain.upper))
            if k != axis
        )
    )
