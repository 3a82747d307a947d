"""Sampling points in a domain, on its faces and its initial slice; membership.

Each function checks its arguments, then calls the domain's own method (the domain
protocol documented on `AbstractDomain`) and checks what it returns.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, DTypeLike, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_positive_int
from ._geometry import AbstractDomain
from ._rejection import mark_grid
from ._sequences import check_array, checked_sequence

_SIGNATURES = {
    "sample_interior": "(self, num_points, *, key, sequence, dtype)",
    "sample_boundary": "(self, num_points, *, key, face, sequence, dtype)",
    "sample_initial": "(self, num_points, *, key, sequence, dtype)",
    "contains": "(self, points, *, atol)",
    "distance": "(self, x)",
    "normal": "(self, x)",
}


def protocol_method(where: str, domain, name: str) -> Callable:
    """The domain's method ``name``, or a ``ValueError`` saying how to add it."""
    method = getattr(domain, name, None)
    if callable(method):
        return method
    kind = type(domain).__name__
    signature = f"def {name}{_SIGNATURES[name]}"
    fix = (
        f"Add `{signature}` to {kind}: see AbstractDomain for the domain protocol "
        "and 'A custom domain' in the docs for a worked example. pinnlib never "
        "samples a domain's bounding box in its place."
    )
    if name == "sample_initial":
        fix = (
            "Only a domain with an initial slice has one, such as "
            "SpaceTime(space, t0, t1): wrap the space in a SpaceTime, use "
            f"sample_boundary(face=...), or give your own domain a `{signature}`."
        )
    raise bad_argument(
        f"{where}(domain=...)", f"a domain with the method {name}", kind, fix
    )


def _checked(domain, name: str, points, shape: tuple, dtype) -> Array:
    """``points`` if they have ``shape`` and ``dtype``, else a ``ValueError``."""
    return check_array(
        f"{type(domain).__name__}.{name}(...)",
        "an array",
        points,
        shape,
        dtype,
        f"Make {name} return the requested points, one row of domain.dim "
        "coordinates each, in the requested dtype.",
    )


def sample_interior(
    domain: AbstractDomain,
    num_points: int,
    *,
    key: PRNGKeyArray,
    method: str | Callable[..., Array] = "uniform",
    dtype: DTypeLike | None = None,
) -> Float[Array, "n d"]:
    r"""Sample `num_points` points in the domain.

    Calls `domain.sample_interior` (see [`AbstractDomain`][]). For an [`Interval`][],
    [`Box`][] or [`SpaceTime`][] the unit-cube sequence `method` is mapped affinely onto
    the box $\prod_i [a_i, b_i]$ (for a SpaceTime, $\Omega \times [t_0, t_1]$).

    **Arguments:**

    - `domain`: an [`Interval`][], [`Box`][], [`SpaceTime`][] or your own domain.
    - `num_points`: the number of points, a static positive int.
    - `key`: a PRNG key (keyword-only).
    - `method`: a built-in sequence name from [`SEQUENCES`][] (`"uniform"`,
      `"latin_hypercube"`, `"sobol"`, `"halton"`, `"grid"`) or your own sequence
      `fn(n, d, *, key, dtype) -> (n, d)` points of $[0, 1)^d$ (keyword-only).
    - `dtype`: float dtype; `None` means JAX's default float.

    **Returns:** a `(num_points, domain.dim)` array of points of the closed domain.

    **Raises:** `ValueError` for a bad count, method or dtype, a sequence returning the
    wrong shape or dtype, or a domain without a `sample_interior` method.

    !!! example
        ```python
        domain = SpaceTime(Interval(-1.0, 1.0), 0.0, 1.0)
        x = sample_interior(domain, 100, key=jax.random.key(0), method="sobol")
        ```
    """
    where = "pinnlib.domains.sample_interior"
    n = check_positive_int(f"{where}(num_points=...)", num_points)
    draw = protocol_method(where, domain, "sample_interior")
    sequence = mark_grid(method, checked_sequence(where, method))
    dt = resolve_dtype(where, dtype)
    points = draw(n, key=key, sequence=sequence, dtype=dt)
    return _checked(domain, "sample_interior", points, (n, domain.dim), dt)


def sample_boundary(
    domain: AbstractDomain,
    num_points: int,
    *,
    key: PRNGKeyArray,
    face: str | None = None,
    method: str | Callable[..., Array] = "uniform",
    dtype: DTypeLike | None = None,
) -> Float[Array, "n d"]:
    """Sample `num_points` points on the boundary, or on one named face.

    Calls `domain.sample_boundary` (see [`AbstractDomain`][]). For an [`Interval`][],
    [`Box`][] or [`SpaceTime`][], with `face=None` or `"boundary"` the points are split
    over the boundary faces (all faces of an Interval or Box; the spatial faces only of
    a SpaceTime) in fixed counts proportional to face measure. Each face is sampled
    with `method` in its own lower-dimensional coordinates, and its fixed coordinate is
    set exactly to the bound. Points come grouped by face, in the order of
    `domain.faces`.

    **Arguments:**

    - `domain`, `num_points`, `key`, `method`, `dtype`: as for [`sample_interior`][].
    - `face`: `None`/`"boundary"`, or one of `domain.faces` (keyword-only).

    **Returns:** a `(num_points, domain.dim)` array of points on the chosen faces.

    **Raises:** `ValueError` for an unknown face (listing the valid names), a bad count,
    method or dtype, or a domain without a `sample_boundary` method.

    !!! example
        ```python
        domain = Box((0.0, 0.0), (2.0, 1.0))
        x = sample_boundary(domain, 60, key=jax.random.key(0))  # 10/10/20/20 by face
        left = sample_boundary(domain, 8, key=jax.random.key(1), face="x0_lower")
        ```
    """
    where = "pinnlib.domains.sample_boundary"
    n = check_positive_int(f"{where}(num_points=...)", num_points)
    draw = protocol_method(where, domain, "sample_boundary")
    if face == "boundary":
        face = None
    if face is not None and face not in domain.faces:
        raise bad_argument(
            f"{where}(face=...)",
            f"None, 'boundary' or one of {list(domain.faces)}",
            face,
            "Pick a face name of this domain.",
        )
    hint = (
        ", one face's share of the boundary: for a grid, sample each face alone "
        "with face=... and a suitable count"
        if face is None
        else ""
    )
    sequence = mark_grid(method, checked_sequence(where, method, hint))
    dt = resolve_dtype(where, dtype)
    points = draw(n, key=key, face=face, sequence=sequence, dtype=dt)
    return _checked(domain, "sample_boundary", points, (n, domain.dim), dt)


def sample_initial(
    domain: AbstractDomain,
    num_points: int,
    *,
    key: PRNGKeyArray,
    method: str | Callable[..., Array] = "uniform",
    dtype: DTypeLike | None = None,
) -> Float[Array, "n d"]:
    r"""Sample `num_points` points on the initial slice $\Omega \times \{t_0\}$.

    Calls `domain.sample_initial` (see [`AbstractDomain`][]).

    **Arguments:**

    - `domain`: a [`SpaceTime`][], or your own domain with a `sample_initial` method.
    - `num_points`, `key`, `method`, `dtype`: as for [`sample_interior`][].

    **Returns:** a `(num_points, domain.dim)` array whose last column is exactly `t0`.

    **Raises:** `ValueError` for a domain without an initial slice (an Interval or a
    Box), a bad count, method or dtype.

    !!! example
        ```python
        domain = SpaceTime(Interval(-1.0, 1.0), 0.0, 1.0)
        x0 = sample_initial(domain, 160, key=jax.random.key(0))   # x0[:, 1] == 0
        ```
    """
    where = "pinnlib.domains.sample_initial"
    draw = protocol_method(where, domain, "sample_initial")
    n = check_positive_int(f"{where}(num_points=...)", num_points)
    sequence = mark_grid(method, checked_sequence(where, method))
    dt = resolve_dtype(where, dtype)
    points = draw(n, key=key, sequence=sequence, dtype=dt)
    return _checked(domain, "sample_initial", points, (n, domain.dim), dt)


def _points(where: str, domain, points) -> Array:
    """``points`` as an array of shape ``(n, domain.dim)``, or a ``ValueError``."""
    points = jnp.asarray(points)
    if points.ndim != 2 or points.shape[-1] != domain.dim:
        raise bad_argument(
            f"{where}(points=...)",
            f"points of shape (n, {domain.dim}) for this {type(domain).__name__}",
            points.shape,
            "This is the wrong point dimension for the domain: give each point "
            f"{domain.dim} coordinate(s) (space first, then time for a SpaceTime).",
        )
    return points


def contains(
    domain: AbstractDomain, points: Float[ArrayLike, "n d"], *, atol: float = 1e-6
) -> Bool[Array, " n"]:
    r"""Whether each point lies in the closed domain, up to `atol`.

    Calls `domain.contains` (see [`AbstractDomain`][]). For an [`Interval`][],
    [`Box`][] or [`SpaceTime`][] it tests
    $a_i - \mathrm{atol} \le x_i \le b_i + \mathrm{atol}$ for every coordinate.

    **Arguments:**

    - `domain`: the domain.
    - `points`: an `(n, domain.dim)` float array.
    - `atol`: the tolerance (keyword-only, default `1e-6`).

    **Returns:** an `(n,)` boolean array.

    **Raises:** `ValueError` when the points' last dimension is not `domain.dim`, or
    for a domain without a `contains` method.

    !!! example
        ```python
        contains(Interval(0.0, 1.0), jnp.array([[0.5], [2.0]]))   # [True, False]
        ```
    """
    where = "pinnlib.domains.contains"
    member = protocol_method(where, domain, "contains")
    points = _points(where, domain, points)
    inside = member(points, atol=atol)
    return _checked(domain, "contains", inside, (points.shape[0],), bool)


@eqx.filter_jit
def _per_point(domain, name: str, points: Array) -> Array:
    """``domain.<name>`` mapped over the rows, compiled once per domain and shape."""
    return jax.vmap(getattr(domain, name))(points)


def distance(
    domain: AbstractDomain, points: Float[ArrayLike, "n d"]
) -> Float[Array, " n"]:
    r"""The domain's approximate signed distance $\phi$ at each point.

    Calls `domain.distance` (see [`AbstractDomain`][]) on each row. $\phi$ is
    positive inside, exactly zero on the boundary and negative outside, smooth inside,
    with $\nabla\phi = -n$ on the boundary (Sukumar & Srivastava 2022, CMAME
    389:114333). It is differentiable twice without NaN, also on the boundary, so that
    $u = g + \phi N$ imposes the boundary condition $u = g$ exactly (hard
    constraints). For a [`SpaceTime`][] it is the spatial distance.

    **Arguments:**

    - `domain`: a domain with a `distance` method ([`Box`][], [`Disk`][],
      [`Polygon`][], a [`Difference`][], ...).
    - `points`: an `(n, domain.dim)` float array.

    **Returns:** an `(n,)` array of the points' dtype.

    **Raises:** `ValueError` when the points' last dimension is not `domain.dim`, or
    for a domain without a `distance` method.

    !!! example
        ```python
        disk = Disk((0.0, 0.0), 1.0)
        distance(disk, jnp.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]))
        # [0.5, 0.0, -1.5]: (R^2 - |x|^2) / (2R)
        ```
    """
    where = "pinnlib.domains.distance"
    protocol_method(where, domain, "distance")
    return _per_point(domain, "distance", _points(where, domain, points))


def normals(
    domain: AbstractDomain, points: Float[ArrayLike, "n d"]
) -> Float[Array, "n d"]:
    r"""The outward unit normal at each boundary point.

    Calls `domain.normal` (see [`AbstractDomain`][]) on each row. The points should
    lie on the boundary (e.g. from [`sample_boundary`][]); elsewhere the result is the
    normal of a nearby part of the boundary. At a corner it is one of the adjacent
    faces' normals.

    **Arguments:**

    - `domain`: a domain with a `normal` method.
    - `points`: an `(n, domain.dim)` float array.

    **Returns:** an `(n, domain.dim)` array of unit vectors.

    **Raises:** `ValueError` when the points' last dimension is not `domain.dim`, or
    for a domain without a `normal` method.

    !!! example
        ```python
        plate = Box((0.0, 0.0), (2.0, 1.0)) - Disk((1.0, 0.5), 0.25)
        x = sample_boundary(plate, 64, key=jax.random.key(0))
        n = normals(plate, x)   # into the hole on its circle
        ```
    """
    where = "pinnlib.domains.normals"
    protocol_method(where, domain, "normal")
    return _per_point(domain, "normal", _points(where, domain, points))
