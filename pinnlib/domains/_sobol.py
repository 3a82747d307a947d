"""Sobol points with Joe–Kuo direction numbers, randomized by a digital shift."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, DTypeLike, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument
from ._common import check_nd

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
    n, d = check_nd("pinnlib.domains.sobol", n, d)
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
