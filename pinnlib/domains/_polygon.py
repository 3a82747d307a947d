r"""Simple polygons: triangulated sampling and Sukumar–Srivastava distance functions."""

import functools
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Real

from .._errors import bad_argument
from ._distance import interior_abs, safe_sqrt
from ._geometry import AbstractDomain

_RealLike = Real[ArrayLike, ""] | float | int
_WHERE = "pinnlib.domains.Polygon(vertices=...)"


def _cross(u, v) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _orient(p, q, r) -> float:
    return _cross(q - p, r - p)


def _on_segment(p, q, r) -> bool:
    """Whether ``r``, collinear with ``p``-``q``, lies on the closed segment."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[
        1
    ] <= max(p[1], q[1])


def _segments_meet(p1, q1, p2, q2) -> bool:
    """Whether the closed segments ``p1 q1`` and ``p2 q2`` intersect."""
    o1, o2 = _orient(p1, q1, p2), _orient(p1, q1, q2)
    o3, o4 = _orient(p2, q2, p1), _orient(p2, q2, q1)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True
    return (
        (o1 == 0 and _on_segment(p1, q1, p2))
        or (o2 == 0 and _on_segment(p1, q1, q2))
        or (o3 == 0 and _on_segment(p2, q2, p1))
        or (o4 == 0 and _on_segment(p2, q2, q1))
    )


def _check_simple(v: np.ndarray) -> None:
    """Raise unless the closed polygon ``v`` has no crossing or folded edges."""
    m = len(v)
    edges = [(v[i], v[(i + 1) % m]) for i in range(m)]
    for i in range(m):
        for j in range(i + 1, m):
            (p1, q1), (p2, q2) = edges[i], edges[j]
            if j == i + 1 or (i == 0 and j == m - 1):  # adjacent: no fold-back
                e1, e2 = q1 - p1, q2 - p2
                folded = _cross(e1, e2) == 0 and float(e1 @ e2) < 0
                if not folded:
                    continue
            elif not _segments_meet(p1, q1, p2, q2):
                continue
            raise bad_argument(
                _WHERE,
                "a simple polygon (edges meet only at shared vertices)",
                f"edges {i} and {j} intersect",
                "List the vertices in boundary order without crossings; build "
                "shapes with holes as a Difference, e.g. Polygon(...) - Disk(...).",
            )


def _checked_vertices(vertices) -> tuple[tuple[float, float], ...]:
    """The vertices, checked, counter-clockwise, as Python floats."""
    try:
        v = np.asarray(vertices, dtype=np.float64)
    except (TypeError, ValueError):
        v = np.zeros((0, 0))
    if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
        raise bad_argument(
            _WHERE,
            "at least 3 vertices (x, y), an array of shape (m, 2)",
            np.shape(vertices) if v.size else vertices,
            "List the corners in boundary order, e.g. [(0, 0), (1, 0), (0, 1)].",
        )
    if not np.all(np.isfinite(v)):
        raise bad_argument(_WHERE, "finite vertices", vertices, "Pass finite floats.")
    edges = np.roll(v, -1, axis=0) - v
    if np.any(np.all(edges == 0, axis=1)):
        raise bad_argument(
            _WHERE,
            "distinct consecutive vertices",
            vertices,
            "Remove repeated vertices (the polygon closes itself: do not repeat the "
            "first vertex at the end).",
        )
    _check_simple(v)
    area = 0.5 * float(np.sum(v[:, 0] * edges[:, 1] - v[:, 1] * edges[:, 0]))
    scale = float(np.max(np.abs(edges))) ** 2
    if abs(area) <= 1e-12 * scale:
        raise bad_argument(
            _WHERE,
            "a polygon of non-zero area",
            vertices,
            "The vertices are collinear: give the corners of a 2-d region.",
        )
    if area < 0:
        v = v[::-1]
    return tuple((float(x), float(y)) for x, y in v.tolist())


@functools.lru_cache(maxsize=64)
def _triangles(vertices: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Ear clipping of a simple CCW polygon: triangles ``(t, 3, 2)``."""
    v = np.asarray(vertices)
    scale = float(np.max(np.ptp(v, axis=0))) ** 2
    left = list(range(len(v)))
    out = []
    while len(left) > 3:
        for i in range(len(left)):
            a, b, c = left[i - 1], left[i], left[(i + 1) % len(left)]
            turn = _orient(v[a], v[b], v[c])
            if abs(turn) <= 1e-14 * scale:  # collinear: drop without a triangle
                left.pop(i)
                break
            if turn < 0:
                continue
            others = [k for k in left if k not in (a, b, c)]
            if not any(
                _orient(v[a], v[b], v[k]) >= 0
                and _orient(v[b], v[c], v[k]) >= 0
                and _orient(v[c], v[a], v[k]) >= 0
                for k in others
            ):
                out.append(v[[a, b, c]])
                left.pop(i)
                break
        else:  # pragma: no cover - a simple polygon always has an ear
            raise bad_argument(
                _WHERE, "a simple polygon", vertices, "Check the vertex order."
            )
    out.append(v[left])
    return np.stack(out)


class Polygon(AbstractDomain):
    r"""A simple polygon in 2-d (e.g. an L-shape); faces `"edge0"`, `"edge1"`, ...

    The vertices are stored counter-clockwise (`polygon.vertices`); edge $i$ joins
    vertex $i$ to vertex $i + 1$ (cyclically). A rectangle is better written as a
    2-d [`Box`][], and shapes with holes as a difference, `Polygon(...) - Disk(...)`.

    - **Interior**: triangulated once by ear clipping; one sequence coordinate picks
      the triangle by area (and, rescaled, serves as its first barycentric
      coordinate, $\sqrt{\cdot}$ trick), so the map from the unit square is
      measure-preserving and every method applies.
    - **Boundary**: one coordinate mapped over the perimeter, piecewise by edge:
      uniform by arc length.
    - **Distance** (Sukumar & Srivastava 2022, CMAME 389:114333, §5.1): for edge $i$
      from $p_1$ to $p_2$, length $L$, centre $c$, let $f$ be the signed distance to
      its line (positive inside), $t = ((L/2)^2 - |x - c|^2)/L$,
      $\varphi = \sqrt{t^2 + f^4}$ and the trimmed segment function
      $\phi_i = \sqrt{f^2 + ((\varphi - t)/2)^2}$; then
      $\phi = 1 / \sum_i 1/\phi_i$ ($m = 1$), evaluated NaN-free as
      $\phi_{\min} / \sum_i (\phi_{\min}/\phi_i)$, and signed negative outside.
      On an edge $\nabla\phi$ is exactly that edge's inward normal.
    - **Inside/outside** (for `contains` and the sign of `distance`): the sign of the
      nearest boundary feature: the side of the nearest edge, or at a nearest vertex
      the side of its two edges (both for a convex vertex, either for a reflex one).
      `contains(points, atol=...)` is "inside, or within `atol` of the boundary".
    - **Normal**: the outward normal of the nearest edge.

    **Arguments:**

    - `vertices`: the corners in boundary order, clockwise or counter-clockwise, an
      `(m, 2)` sequence with $m \ge 3$; do not repeat the first at the end.

    **Raises:** `ValueError` for fewer than 3 vertices, non-finite or repeated
    vertices, zero area, or crossing edges.

    !!! example
        ```python
        ell = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])  # L-shape
        x = sample_interior(ell, 100, key=jax.random.key(0))
        ell.faces[:2]   # ('edge0', 'edge1')
        ```
    """

    vertices: tuple[tuple[float, float], ...] = eqx.field(static=True)

    def __init__(
        self, vertices: Sequence[Sequence[_RealLike]] | Real[ArrayLike, "m 2"]
    ):
        self.vertices = _checked_vertices(vertices)

    @property
    def lower(self) -> tuple[float, ...]:
        """The bounding box's lower corner."""
        return tuple(min(v[k] for v in self.vertices) for k in range(2))

    @property
    def upper(self) -> tuple[float, ...]:
        """The bounding box's upper corner."""
        return tuple(max(v[k] for v in self.vertices) for k in range(2))

    @property
    def faces(self) -> tuple[str, ...]:
        """`("edge0", "edge1", ...)`, one per edge."""
        return tuple(f"edge{i}" for i in range(len(self.vertices)))

    def _edges(self, dtype) -> tuple[Array, Array, Array]:
        """Edge starts ``p`` (m, 2), vectors ``e`` (m, 2) and lengths (m,)."""
        v = np.asarray(self.vertices)
        e = np.roll(v, -1, axis=0) - v
        length = np.sqrt(np.sum(e**2, axis=1))
        return (
            jnp.asarray(v, dtype),
            jnp.asarray(e, dtype),
            jnp.asarray(length, dtype),
        )

    @property
    def boundary_measure(self) -> float:
        """The perimeter."""
        v = np.asarray(self.vertices)
        return float(np.sum(np.sqrt(np.sum((np.roll(v, -1, axis=0) - v) ** 2, 1))))

    def sample_interior(
        self, num_points: int, *, key: PRNGKeyArray, sequence, dtype
    ) -> Float[Array, "n 2"]:
        """Triangle by area from $u_0$, then uniform in it ($\\sqrt{\\cdot}$ trick)."""
        tri = _triangles(self.vertices)
        e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        area = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) / 2
        cum = np.cumsum(area)
        u = sequence(num_points, 2, key=key, dtype=dtype)
        s = u[:, 0] * jnp.asarray(cum[-1], dtype)
        k = jnp.clip(jnp.searchsorted(jnp.asarray(cum, dtype), s, side="right"), 0)
        k = jnp.minimum(k, len(cum) - 1)
        start = jnp.asarray(cum - area, dtype)[k]
        local = jnp.clip((s - start) / jnp.asarray(area, dtype)[k], 0, 1)
        r, w = jnp.sqrt(local)[:, None], u[:, 1:2]
        a, b, c = (jnp.asarray(tri[:, j], dtype)[k] for j in range(3))
        return (1 - r) * a + (r * (1 - w)) * b + (r * w) * c

    def sample_boundary(
        self, num_points: int, *, key: PRNGKeyArray, face: str | None, sequence, dtype
    ) -> Float[Array, "n 2"]:
        """Uniform by arc length over the perimeter, or on one edge."""
        p, e, length = self._edges(dtype)
        u = sequence(num_points, 1, key=key, dtype=dtype)[:, 0]
        if face is not None:
            i = int(face[4:])
            return p[i][None, :] + u[:, None] * e[i][None, :]
        cum = jnp.cumsum(length)
        s = u * cum[-1]
        k = jnp.minimum(jnp.searchsorted(cum, s, side="right"), len(self.vertices) - 1)
        tau = jnp.clip((s - (cum - length)[k]) / length[k], 0, 1)
        return p[k] + tau[:, None] * e[k]

    def _features(self, x: Array) -> tuple[Array, Array, Array, Array]:
        """Per edge at one point: signed line distance f, t, projection, seg dist²."""
        p, e, length = self._edges(x.dtype)
        rel = x[None, :] - p
        f = (e[:, 0] * rel[:, 1] - e[:, 1] * rel[:, 0]) / length
        centre = rel - e / 2
        t = ((length / 2) ** 2 - jnp.sum(centre**2, axis=1)) / length
        tau = jnp.clip(jnp.sum(rel * e, axis=1) / length**2, 0, 1)
        seg2 = jnp.sum((rel - tau[:, None] * e) ** 2, axis=1)
        return f, t, tau, seg2

    def _inside(self, f: Array, tau: Array, seg2: Array) -> Array:
        """Inside by the nearest feature (edge side, or vertex wedge)."""
        m = len(self.vertices)
        v = np.asarray(self.vertices)
        e = np.roll(v, -1, axis=0) - v
        convex = jnp.asarray([_cross(e[i - 1], e[i]) >= 0 for i in range(m)])
        k = jnp.argmin(seg2)
        on_edge = f[k] >= 0
        v = jnp.where(tau[k] >= 1, (k + 1) % m, k)  # the vertex if tau is 0 or 1
        fa, fb = f[(v - 1) % m] >= 0, f[v] >= 0
        at_vertex = jnp.where(convex[v], fa & fb, fa | fb)
        return jnp.where((tau[k] > 0) & (tau[k] < 1), on_edge, at_vertex)

    def _signed(self, x: Array) -> Array:
        f, _, tau, seg2 = self._features(x)
        dist = jnp.sqrt(jnp.min(seg2))
        return jnp.where(self._inside(f, tau, seg2), dist, -dist)

    def contains(
        self, points: Float[Array, "n 2"], *, atol: float
    ) -> Bool[Array, " n"]:
        """Inside, or within `atol` of the boundary (`atol < 0`: deeper than it)."""
        return _signed_all(self, points) >= -atol

    def distance(self, x: Float[Array, " 2"]) -> Float[Array, ""]:
        r"""$\phi = 1/\sum_i 1/\phi_i$ of the trimmed edge functions, signed."""
        f, t, tau, seg2 = self._features(x)
        phi = _trimmed(f, t)
        low = jnp.min(phi)
        ratio = jnp.where(phi > 0, low / jnp.where(phi > 0, phi, 1), 1)
        value = low / jnp.sum(ratio)
        inside = self._inside(*jax.lax.stop_gradient((f, tau, seg2)))
        return jnp.where(inside, value, -value)

    def normal(self, x: Float[Array, " 2"]) -> Float[Array, " 2"]:
        """The outward normal of the nearest edge."""
        _, e, length = self._edges(x.dtype)
        k = jnp.argmin(self._features(x)[3])
        return jnp.stack([e[k, 1], -e[k, 0]]) / length[k]


def _trimmed(f: Array, t: Array) -> Array:
    r"""$\sqrt{f^2 + ((\varphi - t)/2)^2}$, NaN-free, one-sided derivative at $f = 0$.

    For $t > 0$ it is written $|f|\sqrt{1 + (f^3 / (2(\varphi + t)))^2}$ (using
    $\varphi - t = f^4 / (\varphi + t)$), whose gradient on the segment ($f = 0$) is
    that of $f$ from the inside.
    """
    phi = safe_sqrt(t**2 + f**4)
    ahead = t > 0
    den = jnp.where(ahead, phi + t, 1)
    near = interior_abs(f) * jnp.sqrt(1 + (f**3 / (2 * den)) ** 2)
    far = safe_sqrt(f**2 + ((phi - t) / 2) ** 2)
    return jnp.where(ahead, near, far)


@eqx.filter_jit
def _signed_all(polygon: Polygon, points: Array) -> Array:
    """The signed distance to the boundary at each row, compiled once per polygon."""
    return jax.vmap(polygon._signed)(points)
