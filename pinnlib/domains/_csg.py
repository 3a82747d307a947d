r"""Constructive solid geometry: unions, intersections and differences of domains."""

import math
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from .._errors import bad_argument
from ._box import _split, box_points
from ._distance import r_conjunction, r_disjunction
from ._geometry import AbstractDomain
from ._rejection import refuse_grid, rejection_sample
from ._sequences import uniform

_METHODS = ("sample_interior", "sample_boundary", "contains", "distance", "normal")
_ESTIMATE = 4096  # candidates drawn once at construction to estimate rates
_MAX_ROUNDS = 256


def _check_operand(where: str, value) -> None:
    """Raise unless ``value`` is a domain with the whole protocol."""
    if not isinstance(value, AbstractDomain):
        raise bad_argument(
            where, "a domain", type(value).__name__, "Pass e.g. Disk(...) or Box(...)."
        )
    missing = [m for m in _METHODS if not callable(getattr(value, m, None))]
    if not hasattr(value, "boundary_measure"):
        missing.append("boundary_measure")
    if missing:
        raise bad_argument(
            where,
            "a domain with " + ", ".join(_METHODS) + " and boundary_measure",
            f"{type(value).__name__} without {', '.join(missing)}",
            "Set operations need the whole domain protocol (see AbstractDomain).",
        )


def _face_map(a_faces, b_faces) -> tuple[tuple[str, int, str], ...]:
    """``(name, operand, operand's face)``; shared names get suffixes _1 (a), _2 (b)."""
    shared = set(a_faces) & set(b_faces)
    taken = set(a_faces) | set(b_faces)
    out = []
    for op, faces in enumerate((a_faces, b_faces)):
        for face in faces:
            name = face
            if face in shared:
                name = f"{face}_{op + 1}"
                while name in taken:
                    name = f"{name}_{op + 1}"
                taken.add(name)
            out.append((name, op, face))
    return tuple(out)


def _member(kind: str, a, b, points: Array, atol: float) -> Array:
    inside_a = a.contains(points, atol=atol)
    if kind == "union":
        return inside_a | b.contains(points, atol=atol)
    if kind == "intersection":
        return inside_a & b.contains(points, atol=atol)
    return inside_a & ~b.contains(points, atol=-atol)


def _keep(kind: str, a, b, op: int, points: Array, tol: float) -> Array:
    """Which points of operand ``op``'s boundary lie on the composite's boundary.

    Union: from a those not strictly inside b, from b those not in a. Intersection:
    from a those in b, from b those strictly inside a. Difference: from a those not
    strictly inside b, from b those strictly inside a. ("Strictly": deeper than
    ``tol``; "in": within ``tol``. Boundaries that coincide are kept once, from a.)
    """
    other = b if op == 0 else a
    if kind == "union":
        return ~other.contains(points, atol=-tol if op == 0 else tol)
    if kind == "intersection":
        return other.contains(points, atol=tol if op == 0 else -tol)
    if op == 0:
        return ~other.contains(points, atol=-tol)
    return other.contains(points, atol=-tol)


def _tolerance(lower, upper, dtype) -> float:
    """A small length at the points' precision: 64 ulps of the domain's scale."""
    scale = max(max(abs(v) for v in lower + upper), max(np.subtract(upper, lower)))
    return 64 * float(np.finfo(dtype).eps) * scale


def _batch(num_points: int, rate: float) -> int:
    """Candidates per round for about one round at acceptance ``rate``, capped."""
    rate = max(rate, 1 / _ESTIMATE)
    return min(math.ceil(1.25 * num_points / rate) + 16, 64 * num_points + 1024)


def _interior_candidates(kind, a, lower, upper, n, key, sequence, dtype) -> Array:
    """Union: the bounding box; intersection, difference: operand a."""
    if kind == "union":
        return box_points(lower, upper, n, key, sequence, dtype)
    return a.sample_interior(n, key=key, sequence=sequence, dtype=dtype)


class _SetOperation(AbstractDomain):
    """Shared implementation of [`Union`][], [`Intersection`][], [`Difference`][]."""

    a: AbstractDomain
    b: AbstractDomain
    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)
    face_map: tuple[tuple[str, int, str], ...] = eqx.field(static=True)
    kept_measures: tuple[float, float] = eqx.field(static=True)
    interior_rate: float = eqx.field(static=True)
    kind: ClassVar[str] = ""

    def __init__(self, a: Any, b: Any):
        where = f"pinnlib.domains.{type(self).__name__}"
        _check_operand(f"{where}(a=...)", a)
        _check_operand(f"{where}(b=...)", b)
        if a.dim != b.dim:
            raise bad_argument(
                f"{where}(a=..., b=...)",
                "domains of the same dimension",
                (a.dim, b.dim),
                "Combine only domains whose points have the same coordinates.",
            )
        lower, upper = self._bounds(a, b)
        if not all(lo < hi for lo, hi in zip(lower, upper, strict=True)):
            raise bad_argument(
                f"{where}(a=..., b=...)",
                "operands whose bounding boxes overlap",
                (a.lower, a.upper, b.lower, b.upper),
                "The intersection is empty: check the positions of the operands.",
            )
        self.a, self.b, self.lower, self.upper = a, b, lower, upper
        self.face_map = _face_map(a.faces, b.faces)
        self.kept_measures, self.interior_rate = self._estimate(a, b, lower, upper)

    def _bounds(self, a, b) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if self.kind == "union":
            return (
                tuple(map(min, a.lower, b.lower)),
                tuple(map(max, a.upper, b.upper)),
            )
        if self.kind == "intersection":
            return (
                tuple(map(max, a.lower, b.lower)),
                tuple(map(min, a.upper, b.upper)),
            )
        return tuple(a.lower), tuple(a.upper)

    def _estimate(self, a, b, lower, upper) -> tuple[tuple[float, float], float]:
        """Kept boundary measures and the interior acceptance, from a fixed sample."""
        dtype = np.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))
        tol = _tolerance(lower, upper, dtype)
        with jax.ensure_compile_time_eval():
            kept = []
            for op, domain in enumerate((a, b)):
                x = domain.sample_boundary(
                    _ESTIMATE,
                    key=jax.random.key(op + 1),
                    face=None,
                    sequence=uniform,
                    dtype=dtype,
                )
                share = float(jnp.mean(_keep(self.kind, a, b, op, x, tol)))
                kept.append(share * float(domain.boundary_measure))  # pyright: ignore
            x = _interior_candidates(
                self.kind, a, lower, upper, _ESTIMATE, jax.random.key(0), uniform, dtype
            )
            rate = float(jnp.mean(_member(self.kind, a, b, x, 0.0)))
        return (kept[0], kept[1]), rate

    @property
    def faces(self) -> tuple[str, ...]:
        """The operands' faces, a's first; a name both use gets `_1` (a) / `_2` (b)."""
        return tuple(name for name, _, _ in self.face_map)

    @property
    def boundary_measure(self) -> float:
        """An estimate: each operand's boundary measure times its kept fraction."""
        return sum(self.kept_measures)

    def contains(
        self, points: Float[Array, "n d"], *, atol: float
    ) -> Bool[Array, " n"]:
        """The set operation applied to the operands' `contains`."""
        return _member(self.kind, self.a, self.b, points, atol)

    def _phi(self, x: Array) -> tuple[Array, Array]:
        return self.a.distance(x), self.b.distance(x)  # pyright: ignore

    def distance(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        """The R-function of the operands' distance functions."""
        phi_a, phi_b = self._phi(x)
        if self.kind == "union":
            return r_disjunction(phi_a, phi_b)
        if self.kind == "intersection":
            return r_conjunction(phi_a, phi_b)
        return r_conjunction(phi_a, -phi_b)

    def normal(self, x: Float[Array, " d"]) -> Float[Array, " d"]:
        """The normal of the operand whose boundary is nearest (flipped for b in a-b)."""
        phi_a, phi_b = self._phi(x)
        n_a, n_b = self.a.normal(x), self.b.normal(x)  # pyright: ignore
        if self.kind == "difference":
            n_b = -n_b
        return jnp.where(jnp.abs(phi_a) <= jnp.abs(phi_b), n_a, n_b)

    def sample_interior(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n d"]:
        """Fixed-count rejection from the bounding box (union) or from operand a."""
        where = f"pinnlib.domains.{type(self).__name__}.sample_interior"
        refuse_grid("pinnlib.domains.sample_interior", sequence)
        batch = _batch(num_points, self.interior_rate)
        kind, a, b = self.kind, self.a, self.b
        return rejection_sample(
            num_points,
            self.dim,
            lambda k: _interior_candidates(
                kind, a, self.lower, self.upper, batch, k, sequence, dtype
            ),
            lambda x: _member(kind, a, b, x, 0.0),
            key=key,
            max_rounds=_MAX_ROUNDS,
            dtype=dtype,
            what=where,
        )

    def sample_boundary(
        self, num_points: int, *, key: PRNGKeyArray, face: str | None, sequence, dtype
    ) -> Float[Array, "n d"]:
        """Fixed-count rejection of the operands' boundary points, by length."""
        where = f"pinnlib.domains.{type(self).__name__}.sample_boundary"
        refuse_grid("pinnlib.domains.sample_boundary", sequence)
        kind, a, b = self.kind, self.a, self.b
        tol = _tolerance(self.lower, self.upper, dtype)
        if face is None:
            full = [float(a.boundary_measure), float(b.boundary_measure)]  # pyright: ignore
            rate = self.boundary_measure / sum(full)
            counts = _split(_batch(num_points, rate), full)
            parts = [(op, None, c) for op, c in enumerate(counts) if c > 0]
        else:
            op, name = next((op, f) for n, op, f in self.face_map if n == face)
            parts = [(op, name, _batch(num_points, 0.5))]

        def draw(k):
            keys = jax.random.split(k, len(parts))
            operands: tuple[Any, Any] = (a, b)
            points = [
                operands[op].sample_boundary(
                    c, key=keys[i], face=name, sequence=sequence, dtype=dtype
                )
                for i, (op, name, c) in enumerate(parts)
            ]
            return jnp.concatenate(points, axis=0)

        def accept(x):
            masks, start = [], 0
            for op, _, c in parts:
                masks.append(_keep(kind, a, b, op, x[start : start + c], tol))
                start += c
            return jnp.concatenate(masks)

        return rejection_sample(
            num_points,
            self.dim,
            draw,
            accept,
            key=key,
            max_rounds=_MAX_ROUNDS,
            dtype=dtype,
            what=where,
            shuffle=len(parts) > 1,
        )


class Union(_SetOperation):
    r"""The union $A \cup B$ of two domains, also written `a | b`.

    `contains` is `a.contains | b.contains`; the distance is the R-disjunction
    ([`r_disjunction`][]) of the operands' (Shapiro 2007; Sukumar & Srivastava 2022);
    the normal at a boundary point is that of the operand whose $|\phi|$ is smallest.
    Interior candidates come from the bounding box.

    Boundary points are candidates from the operands' boundaries in counts proportional
    to their `boundary_measure` (so uniform by length over the composite boundary),
    kept when they lie on the composite's boundary; interior points are candidates
    kept by `contains(atol=0)`. Both use fixed-count rejection sampling, jittable: the
    output never holds a rejected point, and a region that yields too few points after
    256 rounds raises an error saying it is (nearly) empty. The `"grid"` method cannot
    be thinned and raises a `ValueError`. `boundary_measure` is estimated once at
    construction from 4096 fixed candidates per operand.

    Faces are the operands' faces, `a`'s first, each restricted to the composite's
    boundary; a name that both operands use gets the suffix `_1` on `a`'s face and
    `_2` on `b`'s (repeated while the new name is taken). A face that lies wholly
    off the composite's boundary raises the error above when sampled.

    **Arguments:**

    - `a`, `b`: domains of the same dimension with the whole protocol of
      [`AbstractDomain`][] (`contains`, `distance`, `normal`, `boundary_measure`
      and both samplers).

    **Raises:** `ValueError` for an operand that is not such a domain, operands of
    different dimensions, or (for an intersection) disjoint bounding boxes.

    !!! example
        ```python
        blob = Disk((0.0, 0.0), 1.0) | Disk((1.0, 0.0), 1.0)
        x = sample_interior(blob, 256, key=jax.random.key(0))
        ```
    """

    kind: ClassVar[str] = "union"

    def __init__(self, a: Any, b: Any):
        super().__init__(a, b)


class Intersection(_SetOperation):
    r"""The intersection $A \cap B$ of two domains, also written `a & b`.

    `contains` is `a.contains & b.contains`; the distance is the R-conjunction
    ([`r_conjunction`][]) of the operands'; the normal at a boundary point is that of
    the operand whose $|\phi|$ is smallest. Interior candidates come from `a`.

    Sampling (fixed-count rejection), faces and `boundary_measure` are as for
    [`Union`][].

    **Arguments:** `a`, `b`: domains of the same dimension with the whole protocol of
    [`AbstractDomain`][].

    **Raises:** `ValueError` for an operand that is not such a domain, operands of
    different dimensions, or (for an intersection) disjoint bounding boxes.

    !!! example
        ```python
        lens = Disk((0.0, 0.0), 1.0) & Disk((1.0, 0.0), 1.0)
        x = sample_boundary(lens, 64, key=jax.random.key(0))
        ```
    """

    kind: ClassVar[str] = "intersection"

    def __init__(self, a: Any, b: Any):
        super().__init__(a, b)


class Difference(_SetOperation):
    r"""The difference $A \setminus B$ (its closure), also written `a - b`.

    `contains(points, atol=...)` is `a.contains(atol) & ~b.contains(atol=-atol)`: the
    points strictly inside `b` (deeper than `atol`) are removed, so the boundary of the
    hole belongs to the domain for `atol > 0` (with `atol=0` it may be removed, up to
    rounding). The distance is $\phi_A \wedge (-\phi_B)$ ([`r_conjunction`][]); the
    normal at a boundary point is that of the nearest operand, flipped for `b`: on a
    hole's boundary it points into the hole, out of the domain. Interior candidates
    come from `a`.

    Sampling (fixed-count rejection), faces and `boundary_measure` are as for
    [`Union`][].

    **Arguments:** `a`, `b`: domains of the same dimension with the whole protocol of
    [`AbstractDomain`][].

    **Raises:** `ValueError` for an operand that is not such a domain, operands of
    different dimensions, or (for an intersection) disjoint bounding boxes.

    !!! example
        ```python
        plate = Box((0.0, 0.0), (2.0, 1.0)) - Disk((1.0, 0.5), 0.25)   # with a hole
        draw = sampler(plate, pde=("interior", 512), bc=("boundary", 128),
                       hole=("circle", 32))
        ```
    """

    kind: ClassVar[str] = "difference"

    def __init__(self, a: Any, b: Any):
        super().__init__(a, b)
