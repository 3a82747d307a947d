"""Sampling axis-aligned domains: unit-cube points mapped affinely, faces fix one axis."""

import functools
import math

import jax
import jax.numpy as jnp
from jaxtyping import Array

# A face of an axis-aligned domain: the axis it fixes and the value there.
FaceTable = dict[str, tuple[int, float]]


def axis_faces(lower: tuple[float, ...], upper: tuple[float, ...]) -> FaceTable:
    """``{"x{i}_lower": (i, lower[i]), "x{i}_upper": (i, upper[i]), ...}``."""
    table = {}
    for i, (lo, hi) in enumerate(zip(lower, upper, strict=True)):
        table[f"x{i}_lower"] = (i, lo)
        table[f"x{i}_upper"] = (i, hi)
    return table


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


@jax.jit
def _between(points, lo, hi):
    return jnp.all((points >= lo[None, :]) & (points <= hi[None, :]), axis=1)


def box_points(lower, upper, n: int, key, sequence, dtype) -> Array:
    """``n`` points of the box ``[lower, upper]``: the sequence mapped affinely."""
    u = sequence(n, len(lower), key=key, dtype=dtype)
    return _affine(u, jnp.asarray(lower, dtype), jnp.asarray(upper, dtype))


def _face_points(lower, upper, face, n, key, sequence, dtype) -> Array:
    """``n`` points on one face: the sequence in the face's own coordinates."""
    axis, value = face
    free = [k for k in range(len(lower)) if k != axis]
    if not free:
        return jnp.full((n, 1), value, dtype)
    u = box_points(
        [lower[k] for k in free], [upper[k] for k in free], n, key, sequence, dtype
    )
    return _embed(u, jnp.asarray(value, dtype), axis)


def _split(n: int, weights: list[float]) -> list[int]:
    """Split ``n`` into static counts proportional to ``weights`` (largest rest)."""
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _measure(lower, upper, axis: int) -> float:
    """The (d-1)-dimensional measure of a face fixing ``axis`` (1 in 1-d)."""
    return float(
        math.prod(hi - lo for k, (lo, hi) in enumerate(zip(lower, upper)) if k != axis)
    )


def faces_points(lower, upper, faces: FaceTable, n, key, sequence, dtype) -> Array:
    """``n`` points over ``faces``, split by face measure, one key per face, grouped."""
    names = list(faces)
    counts = _split(n, [_measure(lower, upper, faces[f][0]) for f in names])
    keys = jax.random.split(key, len(names))
    parts = [
        _face_points(lower, upper, faces[f], c, keys[i], sequence, dtype)
        for i, (f, c) in enumerate(zip(names, counts, strict=True))
        if c > 0
    ]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)


def box_contains(lower, upper, points, atol: float) -> Array:
    """Whether each point is in ``[lower - atol, upper + atol]``."""
    lo = jnp.asarray(lower, points.dtype) - atol
    hi = jnp.asarray(upper, points.dtype) + atol
    return _between(points, lo, hi)
