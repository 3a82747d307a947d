"""Sampling points in a domain, on its faces and its initial slice; membership."""

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, DTypeLike, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_positive_int
from ._geometry import (
    AbstractDomain,
    SpaceTime,
    boundary_faces,
    face_measure,
    face_table,
)
from ._sequences import SEQUENCES, check_method, grid_side
from ._sobol import SOBOL_MAX_DIM


def _check_sequence(where: str, method: str, counts: list[int], d: int) -> None:
    """Trace-time checks a sequence would fail, phrased for the caller's arguments."""
    if method == "sobol" and d > SOBOL_MAX_DIM:
        raise bad_argument(
            f"{where}(method=...)",
            f"'sobol' only up to {SOBOL_MAX_DIM} dimensions",
            d,
            "Use method='halton' or 'uniform' for this domain.",
        )
    if method == "grid":
        for c in counts:
            if c > 0 and d > 0:
                grid_side(f"{where}(num_points=...) [{c} points in {d}-d]", c, d)


def _scale(u: Array, lower, upper, dtype) -> Array:
    """Map unit-cube points to the box ``[lower, upper]`` (clipped for round-off)."""
    return _affine(u, jnp.asarray(lower, dtype), jnp.asarray(upper, dtype))


# Small compiled kernels with the bounds as data: eager calls compile once per shape and
# are shared by all faces and domains; inside an outer jit they are inlined.
@jax.jit
def _affine(u, lo, hi):
    lo, hi = lo[None, :], hi[None, :]
    return jnp.clip(lo + u * (hi - lo), lo, hi)


@functools.partial(jax.jit, static_argnums=(2,))
def _embed(u, value, axis):
    """Insert a constant column ``value`` at position ``axis``."""
    fixed = jnp.broadcast_to(value, (u.shape[0], 1))
    return jnp.concatenate([u[:, :axis], fixed, u[:, axis:]], axis=1)


def _split(n: int, weights: list[float]) -> list[int]:
    """Split ``n`` into static counts proportional to ``weights`` (largest rest)."""
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _face_points(domain, face, count, key, method, dtype) -> Array:
    """``count`` points on one face: the method in the face's own coordinates."""
    axis, value = face_table(domain)[face]
    free = [k for k in range(domain.dim) if k != axis]
    if not free:
        return jnp.full((count, 1), value, dtype)
    u = SEQUENCES[method](count, len(free), key=key, dtype=dtype)
    u = _scale(
        u, [domain.lower[k] for k in free], [domain.upper[k] for k in free], dtype
    )
    return _embed(u, jnp.asarray(value, dtype), axis)


def sample_interior(
    domain: AbstractDomain,
    num_points: int,
    *,
    key: PRNGKeyArray,
    method: str = "uniform",
    dtype: DTypeLike | None = None,
) -> Float[Array, "n d"]:
    r"""Sample `num_points` points in the domain.

    The unit-cube sequence `method` is mapped affinely onto the box of the domain (for a
    SpaceTime, $\Omega \times [t_0, t_1]$).

    **Arguments:**

    - `domain`: an [`Interval`][], [`Box`][] or [`SpaceTime`][].
    - `num_points`: the number of points, a static positive int.
    - `key`: a PRNG key (keyword-only).
    - `method`: `"uniform"`, `"latin_hypercube"`, `"sobol"`, `"halton"` or `"grid"`.
    - `dtype`: float dtype; `None` means JAX's default float.

    **Returns:** a `(num_points, domain.dim)` array of points of the closed domain.

    **Raises:** `ValueError` for a bad count, method or dtype.

    !!! example
        ```python
        domain = SpaceTime(Interval(-1.0, 1.0), 0.0, 1.0)
        x = sample_interior(domain, 100, key=jax.random.key(0), method="sobol")
        ```
    """
    where = "pinnlib.domains.sample_interior"
    n = check_positive_int(f"{where}(num_points=...)", num_points)
    check_method(f"{where}(method=...)", method)
    dt = resolve_dtype(where, dtype)
    _check_sequence(where, method, [n], domain.dim)
    u = SEQUENCES[method](n, domain.dim, key=key, dtype=dt)
    return _scale(u, domain.lower, domain.upper, dt)


def sample_boundary(
    domain: AbstractDomain,
    num_points: int,
    *,
    key: PRNGKeyArray,
    face: str | None = None,
    method: str = "uniform",
    dtype: DTypeLike | None = None,
) -> Float[Array, "n d"]:
    """Sample `num_points` points on the boundary, or on one named face.

    With `face=None` or `"boundary"` the points are split over the boundary faces (all
    faces of an Interval or Box; the spatial faces only of a SpaceTime) in fixed counts
    proportional to face measure. Each face is sampled with `method` in its own
    lower-dimensional coordinates, and its fixed coordinate is set exactly to the bound.
    Points come grouped by face, in the order of `domain.faces`.

    **Arguments:**

    - `domain`, `num_points`, `key`, `method`, `dtype`: as for [`sample_interior`][].
    - `face`: `None`/`"boundary"`, or one of `domain.faces` (keyword-only).

    **Returns:** a `(num_points, domain.dim)` array of points on the chosen faces.

    **Raises:** `ValueError` for an unknown face (listing the valid names), a bad count,
    method or dtype.

    !!! example
        ```python
        domain = Box((0.0, 0.0), (2.0, 1.0))
        x = sample_boundary(domain, 60, key=jax.random.key(0))  # 10/10/20/20 by face
        left = sample_boundary(domain, 8, key=jax.random.key(1), face="x0_lower")
        ```
    """
    where = "pinnlib.domains.sample_boundary"
    n = check_positive_int(f"{where}(num_points=...)", num_points)
    check_method(f"{where}(method=...)", method)
    dt = resolve_dtype(where, dtype)
    if face is None or face == "boundary":
        faces = boundary_faces(domain)
    elif face in domain.faces:
        faces = (face,)
    else:
        raise bad_argument(
            f"{where}(face=...)",
            f"None, 'boundary' or one of {list(domain.faces)}",
            face,
            "Pick a face name of this domain.",
        )
    counts = _split(n, [face_measure(domain, f) for f in faces])
    try:
        _check_sequence(where, method, counts, domain.dim - 1)
    except ValueError as err:
        if len(faces) == 1:
            raise
        raise bad_argument(
            f"{where}(num_points=...)",
            "a count whose split over the faces "
            f"{dict(zip(faces, counts, strict=True))} suits method={method!r}",
            n,
            f"Sample each face separately with face=... and a suitable count ({err})",
        ) from None
    return _faces(domain, faces, counts, method, dt, key)


def _faces(domain, faces, counts, method, dt, key) -> Array:
    """Points on several faces, one key per face, grouped by face."""
    keys = jax.random.split(key, len(faces))
    parts = [
        _face_points(domain, f, c, keys[i], method, dt)
        for i, (f, c) in enumerate(zip(faces, counts, strict=True))
        if c > 0
    ]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)


def sample_initial(
    domain: AbstractDomain,
    num_points: int,
    *,
    key: PRNGKeyArray,
    method: str = "uniform",
    dtype: DTypeLike | None = None,
) -> Float[Array, "n d"]:
    r"""Sample `num_points` points on the initial slice $\Omega \times \{t_0\}$.

    **Arguments:**

    - `domain`: a [`SpaceTime`][] (the only domain with an initial slice).
    - `num_points`, `key`, `method`, `dtype`: as for [`sample_interior`][].

    **Returns:** a `(num_points, domain.dim)` array whose last column is exactly `t0`.

    **Raises:** `ValueError` for a domain other than a SpaceTime, a bad count, method or
    dtype.

    !!! example
        ```python
        domain = SpaceTime(Interval(-1.0, 1.0), 0.0, 1.0)
        x0 = sample_initial(domain, 160, key=jax.random.key(0))   # x0[:, 1] == 0
        ```
    """
    where = "pinnlib.domains.sample_initial"
    if not isinstance(domain, SpaceTime):
        raise bad_argument(
            f"{where}(domain=...)",
            "a SpaceTime domain",
            type(domain).__name__,
            "Only SpaceTime domains have an initial slice; wrap the space with "
            "SpaceTime(space, t0, t1), or use sample_boundary(face=...).",
        )
    n = check_positive_int(f"{where}(num_points=...)", num_points)
    check_method(f"{where}(method=...)", method)
    dt = resolve_dtype(where, dtype)
    _check_sequence(where, method, [n], domain.space.dim)
    return _faces(domain, ("initial",), [n], method, dt, key)


def contains(
    domain: AbstractDomain, points: Float[ArrayLike, "n d"], *, atol: float = 1e-6
) -> Bool[Array, " n"]:
    r"""Whether each point lies in the closed domain, up to `atol` per coordinate.

    Tests $a_i - \mathrm{atol} \le x_i \le b_i + \mathrm{atol}$ for every coordinate.

    **Arguments:**

    - `domain`: the domain.
    - `points`: an `(n, domain.dim)` float array.
    - `atol`: the tolerance (keyword-only, default `1e-6`).

    **Returns:** an `(n,)` boolean array.

    **Raises:** `ValueError` when the points' last dimension is not `domain.dim`.

    !!! example
        ```python
        contains(Interval(0.0, 1.0), jnp.array([[0.5], [2.0]]))   # [True, False]
        ```
    """
    points = jnp.asarray(points)
    if points.shape[-1] != domain.dim:
        raise bad_argument(
            "pinnlib.domains.contains(points=...)",
            f"points of shape (n, {domain.dim}) for this {type(domain).__name__}",
            points.shape,
            "This is the wrong point dimension for the domain: give each point "
            f"{domain.dim} coordinate(s) (space first, then time for a SpaceTime).",
        )
    lo = jnp.asarray(domain.lower, points.dtype) - atol
    hi = jnp.asarray(domain.upper, points.dtype) + atol
    return _between(points, lo, hi)


@jax.jit
def _between(points, lo, hi):
    return jnp.all((points >= lo[None, :]) & (points <= hi[None, :]), axis=1)
