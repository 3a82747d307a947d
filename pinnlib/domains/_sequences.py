"""Point sequences on the unit cube $[0, 1)^d$: random, stratified, low-discrepancy."""

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, DTypeLike, Float, PRNGKeyArray

from .._errors import bad_argument, check_positive_int


def resolve_dtype(where: str, dtype) -> np.dtype:
    """The float dtype to create: JAX's default float for ``None``, else ``dtype``.

    Raises rather than silently changing a requested dtype (e.g. float64 without x64).
    """
    if dtype is None:
        return np.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise bad_argument(
            f"{where}(dtype=...)",
            "a floating dtype",
            dtype,
            "Pass jnp.float32, jnp.float64 or None (JAX's default float).",
        ) from None
    if not jnp.issubdtype(dt, jnp.floating):
        raise bad_argument(
            f"{where}(dtype=...)",
            "a floating dtype",
            dt,
            "Points are real coordinates; pass jnp.float32 or jnp.float64.",
        )
    if np.dtype(jax.dtypes.canonicalize_dtype(dt)) != dt:
        raise bad_argument(
            f"{where}(dtype=...)",
            "a dtype JAX can create",
            dt,
            "Enable 64-bit floats with jax.config.update('jax_enable_x64', True), "
            "or pass jnp.float32.",
        )
    return dt


# Each sequence is one compiled kernel (n, d, dtype static), so eager calls compile once
# per shape instead of op by op; inside an outer jit the kernel is simply inlined.
_kernel = functools.partial(jax.jit, static_argnums=(0, 1, 2))


def _check_nd(where: str, n, d) -> tuple[int, int]:
    return (
        check_positive_int(f"{where}(n=...)", n),
        check_positive_int(f"{where}(d=...)", d),
    )


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
    n, d = _check_nd("pinnlib.domains.uniform", n, d)
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
    n, d = _check_nd("pinnlib.domains.latin_hypercube", n, d)
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


# Joe & Kuo (2008) direction numbers, file new-joe-kuo-6.21201, dimensions 2..21:
# (degree s, coefficient a, initial m_1..m_s). Dimension 1 is van der Corput's sequence.
_JOE_KUO = (
    (1, 0, (1,)),
    (2, 1, (1, 3)),
    (3, 1, (1, 3, 1)),
    (3, 2, (1, 1, 1)),
    (4, 1, (1, 1, 3, 3)),
    (4, 4, (1, 3, 5, 13)),
    (5, 2, (1, 1, 5, 5, 17)),
    (5, 4, (1, 1, 5, 5, 5)),
    (5, 7, (1, 1, 7, 11, 19)),
    (5, 11, (1, 1, 5, 1, 1)),
    (5, 13, (1, 1, 1, 3, 11)),
    (5, 14, (1, 3, 5, 5, 31)),
    (6, 1, (1, 3, 3, 9, 7, 49)),
    (6, 13, (1, 1, 1, 15, 21, 21)),
    (6, 16, (1, 3, 1, 13, 27, 49)),
    (6, 19, (1, 1, 1, 15, 7, 5)),
    (6, 22, (1, 3, 1, 15, 13, 25)),
    (6, 25, (1, 1, 5, 5, 19, 61)),
    (7, 1, (1, 3, 7, 11, 23, 15, 103)),
    (7, 4, (1, 3, 7, 13, 13, 15, 69)),
)
SOBOL_MAX_DIM = len(_JOE_KUO) + 1
_BITS = 32


def _direction_numbers(d: int) -> np.ndarray:
    """``(d, 32)`` uint32 direction numbers $v_{j,k} = m_{j,k} 2^{32-k}$."""
    v = np.zeros((d, _BITS), np.uint64)
    v[0] = [1 << (_BITS - k) for k in range(1, _BITS + 1)]
    for j, (s, a, m_init) in enumerate(_JOE_KUO[: d - 1], start=1):
        m = list(m_init)
        for k in range(s, _BITS):
            new = m[k - s] ^ (m[k - s] << s)
            for i in range(1, s):
                if (a >> (s - 1 - i)) & 1:
                    new ^= m[k - i] << i
            m.append(new)
        v[j] = [m[k] << (_BITS - 1 - k) for k in range(_BITS)]
    return v.astype(np.uint32)


def _to_unit(x: Array, dt: np.dtype) -> Array:
    """uint32 digits -> floats in $[0, 1)$, keeping the bits the dtype holds exactly."""
    shift = max(0, _BITS - (jnp.finfo(dt).nmant + 1))
    return (x >> shift).astype(dt) * jnp.asarray(2.0 ** -(_BITS - shift), dt)


def sobol(
    n: int,
    d: int,
    *,
    key: PRNGKeyArray,
    dtype: DTypeLike | None = None,
    randomize: bool = True,
) -> Float[Array, "n d"]:
    r"""Sobol points (Joe–Kuo direction numbers), randomized by a digital shift.

    Point $i$ is $x_i = \bigoplus_k g_k(i)\, v_k$ over the bits $g_k(i)$ of the Gray
    code of $i$; the random digital shift XORs every point with one uniform 32-bit
    vector drawn from `key`, so different keys give different point sets and, for
    $n = 2^m$, a $(t, m, d)$-net stays a net. The first point of the unshifted sequence
    is the origin.

    **Arguments:** as for [`uniform`][], plus `randomize` (keyword-only, default `True`;
    `False` gives the plain sequence and ignores `key`).

    **Returns:** an `(n, d)` array in $[0, 1)$.

    **Raises:** `ValueError` when `d` exceeds the supported maximum (21).

    !!! example
        ```python
        u = sobol(64, 2, key=jax.random.key(0))
        ```
    """
    n, d = _check_nd("pinnlib.domains.sobol", n, d)
    dt = resolve_dtype("pinnlib.domains.sobol", dtype)
    if d > SOBOL_MAX_DIM:
        raise bad_argument(
            "pinnlib.domains.sobol(d=...)",
            f"a dimension of at most {SOBOL_MAX_DIM}",
            d,
            "Use method='halton' or 'uniform' for higher dimensions.",
        )
    return _sobol(n, d, dt, key, randomize)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 4))
def _sobol(n, d, dt, key, randomize):
    v = jnp.asarray(_direction_numbers(d))
    i = jnp.arange(n, dtype=jnp.uint32)
    gray = (i ^ (i >> 1))[:, None]
    x = jnp.zeros((n, d), jnp.uint32)
    for k in range(max(1, (n - 1).bit_length())):
        x = x ^ jnp.where(((gray >> k) & 1) == 1, v[None, :, k], jnp.uint32(0))
    if randomize:
        x = x ^ jax.random.bits(key, (1, d), jnp.uint32)
    return _to_unit(x, dt)


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
    n, d = _check_nd("pinnlib.domains.halton", n, d)
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
    n, d = _check_nd("pinnlib.domains.grid", n, d)
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


SEQUENCES: dict[str, Callable[..., Array]] = {
    "uniform": uniform,
    "latin_hypercube": latin_hypercube,
    "sobol": sobol,
    "halton": halton,
    "grid": grid,
}
"""Point-sequence names accepted by the samplers' `method=...`, mapped to functions."""


def check_method(where: str, method) -> Callable[..., Array]:
    """The sequence named ``method``, or a ``ValueError`` listing the valid names."""
    if not isinstance(method, str) or method not in SEQUENCES:
        raise bad_argument(
            where,
            f"one of {sorted(SEQUENCES)}",
            method,
            "Pick a registered method name.",
        )
    return SEQUENCES[method]
