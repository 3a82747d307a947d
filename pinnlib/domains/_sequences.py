"""Point sequences on the unit cube $[0, 1)^d$: random, stratified, low-discrepancy."""

import functools
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, DTypeLike, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument
from ._common import check_nd
from ._sobol import SOBOL_MAX_DIM, sobol

# Each sequence is one compiled kernel (n, d, dtype static), so eager calls compile once
# per shape instead of op by op; inside an outer jit the kernel is simply inlined.
_kernel = functools.partial(jax.jit, static_argnums=(0, 1, 2))


def uniform(
    n: int, d: int, *, key: PRNGKeyArray, dtype: DTypeLike | None = None
) -> Float[Array, "n d"]:
    """Independent uniform points on $[0, 1)^d$ (`jax.random.uniform`).

    **Arguments:**

    - `n`, `d`: number of points and dimension (static Python ints).
    - `key`: a PRNG key (keyword-only).
    - `dtype`: float dtype; `None` means JAX's default float.

    **Returns:** an `(n, d)` array in $[0, 1)$.

    !!! example
        ```python
        u = uniform(8, 2, key=jax.random.key(0))
        ```
    """
    n, d = check_nd("pinnlib.domains.uniform", n, d)
    dt = resolve_dtype("pinnlib.domains.uniform", dtype)
    return _uniform(n, d, dt, key)


@_kernel
def _uniform(n, d, dt, key):
    return jax.random.uniform(key, (n, d), dt)


def latin_hypercube(
    n: int, d: int, *, key: PRNGKeyArray, dtype: DTypeLike | None = None
) -> Float[Array, "n d"]:
    r"""Latin hypercube points: in each dimension exactly one point per stratum.

    Coordinate $j$ of point $i$ is $(\pi_j(i) + \xi_{ij}) / n$ with an independent
    random permutation $\pi_j$ per dimension and uniform jitter $\xi_{ij} \in [0, 1)$.

    **Arguments:** as for [`uniform`][]. **Returns:** an `(n, d)` array in $[0, 1)$.

    !!! example
        ```python
        u = latin_hypercube(16, 3, key=jax.random.key(0))
        ```
    """
    n, d = check_nd("pinnlib.domains.latin_hypercube", n, d)
    dt = resolve_dtype("pinnlib.domains.latin_hypercube", dtype)
    return _latin_hypercube(n, d, dt, key)


@_kernel
def _latin_hypercube(n, d, dt, key):
    kperm, kjit = jax.random.split(key)
    # One independent random permutation per column: argsort of i.i.d. uniforms.
    perms = jnp.argsort(jax.random.uniform(kperm, (n, d)), axis=0)
    jitter = jax.random.uniform(kjit, (n, d), dt)
    u = (perms.astype(dt) + jitter) / jnp.asarray(n, dt)
    return jnp.minimum(u, jnp.nextafter(jnp.asarray(1, dt), jnp.asarray(0, dt)))


def _primes(count: int) -> list[int]:
    primes: list[int] = []
    c = 2
    while len(primes) < count:
        if all(c % p for p in primes if p * p <= c):
            primes.append(c)
        c += 1
    return primes


def halton(
    n: int,
    d: int,
    *,
    key: PRNGKeyArray,
    dtype: DTypeLike | None = None,
    randomize: bool = True,
) -> Float[Array, "n d"]:
    r"""Halton points randomized by a Cranley–Patterson shift.

    Coordinate $j$ of point $i$ is the radical inverse $\phi_{b_j}(i) = \sum_k a_k
    b_j^{-k-1}$ of $i = \sum_k a_k b_j^k$ in the $j$-th prime base $b_j$, with a static
    number of digits (enough for $i < n$), reversed exactly in integers, rounded once.
    It is then shifted: $(\phi_{b_j}(i) + s_j) \bmod 1$ with $s \sim U[0, 1)^d$ from
    `key`. Point 0 of the unshifted sequence is the origin.

    **Arguments:** as for [`uniform`][], plus `randomize` (keyword-only, default `True`;
    `False` gives the plain sequence and ignores `key`).

    **Returns:** an `(n, d)` array in $[0, 1)$.

    **Raises:** `ValueError` when `n` times the largest base reaches $2^{31}$.

    !!! example
        ```python
        u = halton(100, 3, key=jax.random.key(0))
        ```
    """
    n, d = check_nd("pinnlib.domains.halton", n, d)
    dt = resolve_dtype("pinnlib.domains.halton", dtype)
    bases = _primes(d)
    if n * bases[-1] >= 2**31:
        raise bad_argument(
            "pinnlib.domains.halton(n=...)",
            f"fewer than {2**31 // bases[-1]} points in {d} dimensions",
            n,
            "Draw several smaller batches, or use method='sobol'.",
        )
    return _halton(n, d, dt, key, randomize)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 4))
def _halton(n, d, dt, key, randomize):
    bases = _primes(d)
    i = jnp.arange(n, dtype=jnp.int32)
    cols = []
    for b in bases:  # integer digit reversal, then one rounding: r / b^K
        num_digits = 1
        while b**num_digits < n:
            num_digits += 1
        r, q = jnp.zeros_like(i), i
        for _ in range(num_digits):
            r, q = r * b + q % b, q // b
        cols.append(r.astype(dt) / jnp.asarray(float(b**num_digits), dt))
    x = jnp.stack(cols, axis=1)
    if randomize:
        x = jnp.mod(x + jax.random.uniform(key, (1, d), dt), jnp.asarray(1, dt))
    return jnp.minimum(x, jnp.nextafter(jnp.asarray(1, dt), jnp.asarray(0, dt)))


def grid_side(where: str, n: int, d: int) -> int:
    """The side $m$ with $m^d = n$, or a ``ValueError`` suggesting the nearest ``n``."""
    m = max(1, round(n ** (1.0 / d)))
    for cand in (m - 1, m, m + 1):
        if cand >= 1 and cand**d == n:
            return cand
    lo = max(1, math.floor(n ** (1.0 / d)))
    while (lo + 1) ** d <= n:
        lo += 1
    while lo > 1 and lo**d > n:
        lo -= 1
    raise bad_argument(
        where,
        f"a number of points m**{d} for a regular grid in {d} dimension(s)",
        n,
        f"Use {lo**d} ({lo}**{d}) or {(lo + 1) ** d} ({lo + 1}**{d}) points, "
        "or another method.",
    )


def grid(
    n: int, d: int, *, key: PRNGKeyArray, dtype: DTypeLike | None = None
) -> Float[Array, "n d"]:
    r"""A regular cell-centred grid: coordinates $(i + 1/2) / m$, $i = 0, \dots, m-1$.

    The points are ordered with the last axis varying fastest. `key` is accepted for a
    uniform signature and ignored: the grid is the same for every key.

    **Arguments:** as for [`uniform`][]; `n` must equal $m^d$ for an integer $m$.

    **Returns:** an `(n, d)` array in $(0, 1)$.

    **Raises:** `ValueError` when `n` is not a perfect `d`-th power (suggesting the
    nearest).

    !!! example
        ```python
        u = grid(16, 2, key=jax.random.key(0))   # a 4 x 4 grid
        ```
    """
    n, d = check_nd("pinnlib.domains.grid", n, d)
    dt = resolve_dtype("pinnlib.domains.grid", dtype)
    grid_side("pinnlib.domains.grid(n=...)", n, d)
    return _grid(n, d, dt)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _grid(n, d, dt):
    m = grid_side("pinnlib.domains.grid(n=...)", n, d)
    idx = jnp.arange(n, dtype=jnp.int32)
    cols = [(idx // m ** (d - 1 - k)) % m for k in range(d)]
    ijk = jnp.stack(cols, axis=1).astype(dt)
    return (ijk + jnp.asarray(0.5, dt)) / jnp.asarray(m, dt)


SEQUENCES: Mapping[str, Callable[..., Array]] = MappingProxyType(
    {
        "uniform": uniform,
        "latin_hypercube": latin_hypercube,
        "sobol": sobol,
        "halton": halton,
        "grid": grid,
    }
)
r"""The built-in point-sequence names accepted by `method=...`, mapped to functions.

A read-only mapping. Every sampling function also takes your own sequence as
`method=fn`, a callable with the signature of the built-in ones,

`fn(n: int, d: int, *, key: PRNGKeyArray, dtype) -> Float[Array, "n d"]`,

returning `n` points of $[0, 1)^d$ (`n`, `d` static ints; `dtype` the float dtype to
return). The domain maps them onto itself (an affine map for boxes), so nothing needs to
be registered:

```python
def antithetic(n, d, *, key, dtype):   # pairs u, 1 - u (n even)
    u = jax.random.uniform(key, (n // 2, d), dtype)
    return jnp.concatenate([u, jnp.mod(-u, 1.0)])

x = sample_interior(Box((0.0, 0.0), (2.0, 1.0)), 64, key=key, method=antithetic)
```
"""


def check_method(where: str, method) -> Callable[..., Array]:
    """The sequence ``method`` (a built-in name or a callable), or a ``ValueError``."""
    if isinstance(method, str) and method in SEQUENCES:
        return SEQUENCES[method]
    if callable(method):
        return cast(Callable[..., Array], method)
    raise bad_argument(
        where,
        f"one of the built-in names {sorted(SEQUENCES)} or a callable "
        "fn(n, d, *, key, dtype) -> (n, d) points in [0, 1)^d",
        method,
        "Pick a listed name or pass your own sequence function.",
    )


def describe(array) -> str:
    """``"shape (n, d), dtype float32"`` of an array, or the type of anything else."""
    if not hasattr(array, "shape") or not hasattr(array, "dtype"):
        return f"an object of type {type(array).__name__}"
    return f"shape {tuple(array.shape)}, dtype {np.dtype(array.dtype)}"


def check_array(where: str, what: str, array, shape: tuple, dtype, fix: str) -> Array:
    """`array` if it has `shape` and `dtype`, else a `ValueError` naming `where`."""
    expected = f"shape {shape}, dtype {np.dtype(dtype)}"
    if describe(array) != expected:
        raise bad_argument(where, f"{what} of {expected}", describe(array), fix)
    return array


def checked_sequence(where: str, method, hint: str = "") -> Callable[..., Array]:
    """``method`` as ``sequence(n, d, *, key, dtype)`` whose errors name ``where``.

    Before drawing it checks what a built-in sequence would reject (Sobol dimensions,
    grid counts; ``hint`` is added to the count's description); after drawing it checks
    that the points have shape ``(n, d)`` and the requested dtype.
    """
    fn = check_method(f"{where}(method=...)", method)

    def sequence(n: int, d: int, *, key: PRNGKeyArray, dtype) -> Float[Array, "n d"]:
        if method == "sobol" and d > SOBOL_MAX_DIM:
            raise bad_argument(
                f"{where}(method=...)",
                f"'sobol' only up to {SOBOL_MAX_DIM} dimensions",
                d,
                "Use method='halton' or 'uniform' for this domain.",
            )
        if method == "grid":
            grid_side(f"{where}(num_points=...) [{n} points in {d}-d{hint}]", n, d)
        return check_array(
            f"{where}(method=...)",
            "a sequence returning an array",
            fn(n, d, key=key, dtype=dtype),
            (n, d),
            dtype,
            "A point sequence is fn(n, d, *, key, dtype) and returns n points of "
            "[0, 1)^d as an (n, d) array of that dtype.",
        )

    return sequence
