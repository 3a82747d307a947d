r"""Gaussian random fields by spectral (Karhunen–Loève) sampling in Laplacian modes."""

import functools
import math

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, DTypeLike, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_finite, check_positive_int, is_traced


def check_coefficient(where: str, value, *, strict: bool = True) -> None:
    """Raise unless a concrete ``value`` is a finite number ``> 0`` (``>= 0``).

    Traced values (inside ``jit``/``vmap``) are not checked.
    """
    if is_traced(value):
        return
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        arr = np.asarray(np.nan)
    if arr.shape != () or isinstance(value, bool):
        raise bad_argument(
            where, "a real scalar", value, "Pass a Python float (or a 0-d array)."
        )
    check_finite(where, arr)
    if arr < 0 or (strict and arr == 0):
        raise bad_argument(
            where,
            "a positive number" if strict else "a non-negative number",
            value,
            "Pass a value > 0." if strict else "Pass a value >= 0.",
        )


def map_in_batches(fn, xs, batch_size: int | None):
    """`jax.vmap(fn)(xs)` over the leading axis, `batch_size` samples at a time.

    The samples are split into equal batches (the last one padded with copies of the
    last sample), so that `fn` is traced once; the batches run in `jax.lax.map`.
    """
    n = jax.tree.leaves(xs)[0].shape[0]
    if batch_size is None or batch_size >= n:
        return jax.vmap(fn)(xs)
    batches = -(-n // batch_size)
    size = -(-n // batches)

    def split(x):
        x = jnp.concatenate([x, jnp.repeat(x[-1:], batches * size - n, axis=0)])
        return x.reshape(batches, size, *x.shape[1:])

    ys = jax.lax.map(jax.vmap(fn), jax.tree.map(split, xs))
    return jax.tree.map(lambda y: y.reshape(-1, *y.shape[2:])[:n], ys)


def _check_field(where: str, num, variance, shift, power, *, strict_shift: bool):
    num = check_positive_int(f"{where}(num=...)", num)
    check_coefficient(f"{where}(variance=...)", variance)
    check_coefficient(f"{where}(shift=...)", shift, strict=strict_shift)
    check_coefficient(f"{where}(power=...)", power)
    return num


def _spectrum(eigenvalue, variance, shift, power, dtype) -> Array:
    """Standard deviations $\\sqrt{\\sigma^2 (\\mu + \\tau)^{-p}}$ of the KL modes."""
    mu = jnp.asarray(eigenvalue, dtype)
    return jnp.sqrt(variance * (mu + shift) ** (-power))


def periodic_grf(
    key: PRNGKeyArray,
    num: int,
    size: int,
    *,
    variance: float | Float[Array, ""] = 625.0,
    shift: float | Float[Array, ""] = 25.0,
    power: float | Float[Array, ""] = 2.0,
    dtype: DTypeLike | None = None,
) -> Float[Array, "num size"]:
    r"""Samples of a periodic Gaussian random field on $[0, 1)$ with zero mean mode.

    $u \sim \mathcal{N}\big(0, \sigma^2 (-\Delta + \tau I)^{-p}\big)$ on the periodic
    interval, without the constant mode: by the Karhunen–Loève expansion in the
    Laplacian's orthonormal eigenfunctions $\sqrt2\cos(2\pi k x)$, $\sqrt2\sin(2\pi k x)$
    (eigenvalues $(2\pi k)^2$),

    $$u(x) = \sum_{k=1}^{K} \sqrt{\lambda_k}\,\big(a_k \sqrt2 \cos(2\pi k x)
    + b_k \sqrt2 \sin(2\pi k x)\big), \qquad
    \lambda_k = \sigma^2 \big((2\pi k)^2 + \tau\big)^{-p},$$

    with $a_k, b_k \sim \mathcal{N}(0, 1)$ independent and $K$ = `size // 2`,
    evaluated exactly on $x_j = j / n$, $j = 0, \ldots, n - 1$ ($n$ = `size`) by one
    inverse real FFT. For even $n$ the last mode $k = n/2$ is the Nyquist mode: on the
    grid its sine vanishes and its cosine is $(-1)^j$, which is kept with its full
    weight. The samples are therefore exactly the grid values of the field truncated
    to $k \le K$: their covariance is $C(x_i, x_j) = \sum_{k=1}^{K} 2\lambda_k
    \cos(2\pi k (x_i - x_j))$ and every sample has zero mean over the grid.

    The defaults ($\sigma^2 = 625$, $\tau = 25$, $p = 2$) are the initial conditions
    of the Burgers benchmark of Li et al., "Fourier neural operator for parametric
    partial differential equations" (ICLR 2021).

    **Arguments:**

    - `key`: a PRNG key.
    - `num`: number of samples (a Python int).
    - `size`: number of grid points $n \ge 2$ (a Python int).
    - `variance`, `shift`, `power`: $\sigma^2 > 0$, $\tau \ge 0$, $p > 0$
        (keyword-only; floats or scalar arrays, so they can be traced or vmapped).
    - `dtype`: float dtype of the samples (keyword-only); `None` is JAX's default float.

    **Returns:** an array of shape `(num, size)`.

    **Raises:** `ValueError` for a non-positive count, a size below 2, a coefficient
    out of range, or a dtype JAX cannot create.

    !!! example

        ```python
        u0 = pl.data.periodic_grf(jax.random.key(0), 100, 256)  # (100, 256)
        ```
    """
    where = "pinnlib.data.periodic_grf"
    num = _check_field(where, num, variance, shift, power, strict_shift=False)
    size = check_positive_int(f"{where}(size=...)", size)
    if size < 2:
        raise bad_argument(
            f"{where}(size=...)",
            "at least 2 grid points",
            size,
            "A field without its constant mode needs k = 1, so pass size >= 2.",
        )
    dt = resolve_dtype(where, dtype)
    return _periodic(num, size, dt, key, *_as_arrays(dt, variance, shift, power))


def _as_arrays(dtype, *values) -> tuple[Array, ...]:
    return tuple(jnp.asarray(v, dtype) for v in values)


# One compiled kernel per (num, size, dtype): eager calls do not dispatch op by op.
@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _periodic(num, size, dt, key, variance, shift, power):
    modes = size // 2
    k = np.arange(1, modes + 1)
    s = _spectrum((2.0 * np.pi * k) ** 2, variance, shift, power, dt)
    a, b = jax.random.normal(key, (2, num, modes), dt)
    c = (size / math.sqrt(2.0)) * s[None, :] * (a - 1j * b)
    if size % 2 == 0:  # Nyquist: irfft keeps Re(c)/n; its cosine has weight sqrt(2)
        c = c.at[:, -1].set(size * math.sqrt(2.0) * s[-1] * a[:, -1])
    c = jnp.concatenate([jnp.zeros((num, 1), c.dtype), c], axis=1)
    return jnp.fft.irfft(c, size, axis=-1).astype(dt)


def _cosine_matrix(n: int, dtype) -> Array:
    """$C_{ik} = c_k \\cos(\\pi k x_i)$ on $x_i = i/(n-1)$, $c_0 = 1$, $c_k = \\sqrt2$."""
    i = np.arange(n)
    c = np.where(i == 0, 1.0, math.sqrt(2.0))
    return jnp.asarray(c * np.cos(np.pi * np.outer(i, i) / (n - 1)), dtype)


def _check_sizes(where: str, size) -> tuple[int, ...]:
    sizes = (size,) if isinstance(size, int | np.integer) else size
    try:
        sizes = tuple(check_positive_int(f"{where}(size=...)", n) for n in sizes)
    except (TypeError, ValueError):
        sizes = ()
    if not sizes or min(sizes) < 2:
        raise bad_argument(
            f"{where}(size=...)",
            "an int >= 2 or a tuple of ints >= 2 (nodes per dimension)",
            size,
            "Pass e.g. size=64 for 1-d or size=(64, 64) for 2-d; the grid includes "
            "both boundary nodes, so each dimension needs at least 2.",
        )
    return sizes


def neumann_grf(
    key: PRNGKeyArray,
    num: int,
    size: int | tuple[int, ...],
    *,
    variance: float | Float[Array, ""] = 1.0,
    shift: float | Float[Array, ""] = 9.0,
    power: float | Float[Array, ""] = 2.0,
    dtype: DTypeLike | None = None,
) -> Float[Array, " num *size"]:
    r"""Samples of a Gaussian random field on $[0, 1]^d$ in zero-Neumann cosine modes.

    $u \sim \mathcal{N}\big(0, \sigma^2 (-\Delta + \tau I)^{-p}\big)$ with the Laplacian
    under zero-Neumann boundary conditions, by the Karhunen–Loève expansion in its
    orthonormal eigenfunctions $\phi_k(x) = \prod_{i=1}^d c_{k_i} \cos(\pi k_i x_i)$
    ($c_0 = 1$, $c_k = \sqrt2$ for $k \ge 1$), with eigenvalues $\pi^2 |k|^2$,
    including the constant mode:

    $$u(x) = \sum_{k} \sqrt{\lambda_k}\, \xi_k\, \phi_k(x), \qquad
    \lambda_k = \sigma^2 \big(\pi^2 |k|^2 + \tau\big)^{-p}, \qquad
    \xi_k \sim \mathcal{N}(0, 1),$$

    over $0 \le k_i \le n_i - 1$: on the node grid $x_i = i / (n - 1)$,
    $i = 0, \ldots, n - 1$ (both boundary nodes included), these are exactly the
    distinct cosine modes, and the expansion is evaluated exactly by one matrix product
    with the cosine matrix per axis (a type-I discrete cosine transform). Each sample
    is even about $x_i = 0$ and $x_i = 1$, so its normal derivative vanishes there.
    The covariance of the samples is
    $C(x, y) = \sum_k \lambda_k \phi_k(x) \phi_k(y)$.

    The defaults ($\sigma^2 = 1$, $\tau = 9$, $p = 2$) give the field whose sign makes
    the coefficients of the Darcy benchmark of Li et al. (ICLR 2021); see
    [`pinnlib.data.darcy_pairs`][].

    **Arguments:**

    - `key`: a PRNG key.
    - `num`: number of samples (a Python int).
    - `size`: nodes per dimension: an int $n \ge 2$ (1-d) or a tuple such as `(n1, n2)`
        (2-d, or more).
    - `variance`, `shift`, `power`: $\sigma^2 > 0$, $\tau > 0$, $p > 0$
        (keyword-only; floats or scalar arrays).
    - `dtype`: float dtype of the samples (keyword-only); `None` is JAX's default float.

    **Returns:** an array of shape `(num, *size)`.

    **Raises:** `ValueError` for a non-positive count, a dimension with fewer than 2
    nodes, a coefficient out of range, or a dtype JAX cannot create.

    !!! example

        ```python
        f = pl.data.neumann_grf(jax.random.key(0), 10, (64, 64))  # (10, 64, 64)
        ```
    """
    where = "pinnlib.data.neumann_grf"
    num = _check_field(where, num, variance, shift, power, strict_shift=True)
    sizes = _check_sizes(where, size)
    dt = resolve_dtype(where, dtype)
    return _neumann(num, sizes, dt, key, *_as_arrays(dt, variance, shift, power))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _neumann(num, sizes, dt, key, variance, shift, power):
    grids = np.meshgrid(*(np.arange(n) for n in sizes), indexing="ij")
    eigenvalue = np.pi**2 * sum(k.astype(np.float64) ** 2 for k in grids)
    std = _spectrum(eigenvalue, variance, shift, power, dt)
    u = std[None] * jax.random.normal(key, (num, *sizes), dt)
    for axis, n in enumerate(sizes):  # the cosine matrix along each axis in turn
        u = jnp.tensordot(_cosine_matrix(n, dt), u, ((1,), (axis + 1,)))
        u = jnp.moveaxis(u, 0, axis + 1)
    return u
