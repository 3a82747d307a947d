"""Antiderivative pairs: Gaussian random fields on [0, 1] and their exact integrals.

The field is a random trigonometric series on a period $L > 1$ whose covariance is
the periodised RBF kernel, so both the field and its antiderivative are closed-form
sums of sines and cosines.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_positive_int

# The series is cut where both neglected parts of the covariance are below e^-50:
# the periodic images, k(L - 1) = exp(-(L - 1)^2 / (2 l^2)), and the spectral tail,
# exp(-(l ω_J)^2 / 2).
_REACH = 10.0


def _series(length_scale: float) -> tuple[float, int]:
    """The period $L = 1 + 10 l$ and the number of frequencies $J$, $l ω_J \\ge 10$."""
    period = 1.0 + _REACH * length_scale
    return period, math.ceil(_REACH * period / (2 * math.pi * length_scale)) + 1


def _amplitudes(length_scale: float, dtype) -> tuple[Array, Array]:
    r"""Frequencies $ω_j = 2πj/L$ and amplitudes $c_j$, $j = 0..J-1$.

    $c_j^2 = (2 - δ_{j0})\, \hat k(ω_j) / L$ with $\hat k(ω) = l\sqrt{2π}\,
    e^{-l^2 ω^2 / 2}$, the Fourier transform of the RBF kernel: by Poisson summation
    $\sum_j c_j^2 \cos(ω_j r) = \sum_{n \in \mathbb{Z}} k(r + nL)$.
    """
    period, num = _series(length_scale)
    omega = 2 * np.pi * np.arange(num) / period
    density = (
        length_scale * np.sqrt(2 * np.pi) * np.exp(-0.5 * (length_scale * omega) ** 2)
    )
    weights = np.where(omega == 0, 1.0, 2.0) * density / period
    return jnp.asarray(omega, dtype), jnp.asarray(np.sqrt(weights), dtype)


def grf_coefficients(
    key: PRNGKeyArray, num: int, length_scale: float, dtype
) -> tuple[Array, Array]:
    """Standard normal coefficients `(num, J)` of the cosines and of the sines."""
    _, size = _series(length_scale)
    return tuple(jax.random.normal(key, (2, num, size), dtype))  # type: ignore[return-value]


def grf_values(coefficients, x: Array, length_scale: float) -> Array:
    r"""$u(x) = \sum_j c_j (\xi_j \cos ω_j x + η_j \sin ω_j x)$ at `x (q,)`: `(num, q)`."""
    xi, eta = coefficients
    omega, c = _amplitudes(length_scale, x.dtype)
    phase = x[:, None] * omega[None, :]
    return (c[None, :] * xi) @ jnp.cos(phase).T + (c[None, :] * eta) @ jnp.sin(phase).T


def grf_integrals(coefficients, x: Array, length_scale: float) -> Array:
    r"""$s(x) = \int_0^x u$ at `x (q,)`: `(num, q)`.

    $s(x) = c_0 \xi_0 x + \sum_{j \ge 1} \frac{c_j}{ω_j}
    \big(\xi_j \sin ω_j x + 2 η_j \sin^2(ω_j x / 2)\big)$.
    """
    xi, eta = coefficients
    omega, c = _amplitudes(length_scale, x.dtype)
    phase = x[:, None] * omega[None, :]
    safe = jnp.where(omega == 0, 1, omega)[None, :]
    sine = jnp.where(omega[None, :] == 0, x[:, None], jnp.sin(phase) / safe)
    versine = 2 * jnp.sin(phase / 2) ** 2 / safe
    return (c[None, :] * xi) @ sine.T + (c[None, :] * eta) @ versine.T


def _queries(where: str, queries, sensors: int, dtype) -> Array:
    """The query points `(Q,)`: the sensors, `Q` equispaced points, or given ones."""
    if queries is None:
        queries = sensors
    if isinstance(queries, int | np.integer) and not isinstance(queries, bool):
        num = check_positive_int(where, queries)
        return jnp.linspace(0.0, 1.0, num, dtype=dtype)
    shape = getattr(queries, "shape", None)
    if (
        shape is None
        or not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1))
        or shape[0] == 0
    ):
        raise bad_argument(
            where,
            "None (the sensors), a number of equispaced points, or query points of "
            "shape (Q,) or (Q, 1) in [0, 1]",
            shape if shape is not None else queries,
            "Pass e.g. queries=100 or queries=jnp.linspace(0.0, 1.0, 100).",
        )
    return jnp.asarray(queries, dtype).reshape(-1)


def antiderivative_pairs(
    key: PRNGKeyArray,
    num: int,
    *,
    sensors: int = 100,
    queries: int | Float[ArrayLike, "..."] | None = None,
    length_scale: float = 0.2,
    dtype=None,
) -> tuple[
    tuple[Float[Array, "num m"], Float[Array, "num q 1"]], Float[Array, "num q"]
]:
    r"""Input functions and their antiderivatives, the DeepONet benchmark of Lu et al.

    The operator is $G(u)(y) = s(y) = \int_0^y u(\tau)\,d\tau$ on $[0, 1]$, i.e.
    $s' = u$, $s(0) = 0$ (Lu, Jin, Pang, Zhang & Karniadakis, "Learning nonlinear
    operators via DeepONet", Nat. Mach. Intell. 3, 218–229, 2021, section
    "Antiderivative"). The inputs $u$ are draws of a mean-zero Gaussian random field
    with the RBF kernel $k(x, x') = \exp(-|x - x'|^2 / (2 l^2))$, read at the $m$
    equispaced sensors $x_i = i / (m - 1)$.

    **How it is exact.** Each $u$ is the random trigonometric series
    $u(x) = \sum_{j=0}^{J-1} c_j (\xi_j \cos\omega_j x + \eta_j \sin\omega_j x)$,
    $\xi_j, \eta_j \sim \mathcal{N}(0, 1)$, $\omega_j = 2\pi j / L$, with
    $c_j^2 = (2 - \delta_{j0})\,\hat k(\omega_j) / L$ and
    $\hat k(\omega) = l\sqrt{2\pi}\,e^{-l^2\omega^2/2}$ (a spectral, Karhunen–Loève
    expansion of the periodic field). By Poisson summation its covariance is
    $\sum_{n} k(x - x' + nL)$ minus the spectral tail beyond $\omega_J$; with
    $L = 1 + 10 l$ and $l\,\omega_{J-1} \ge 10$ both differ from the RBF kernel on
    $[0, 1]$ by less than $e^{-50} \approx 2 \times 10^{-22}$, so the samples have the
    RBF field's distribution to far below rounding ($J = 25$ terms for $l = 0.2$).
    The antiderivative of the series is the closed form
    $s(y) = c_0\xi_0 y + \sum_{j\ge1} \frac{c_j}{\omega_j}\big(\xi_j \sin\omega_j y +
    2\eta_j \sin^2(\omega_j y/2)\big)$, so the targets are exact up to rounding: to
    about $10^{-15}$ in float64 and $10^{-6}$ in float32 (measured against a
    high-order quadrature in the tests), and $s(0) = 0$ exactly.

    **Arguments:**

    - `key`: a PRNG key; the data are a pure function of it.
    - `num`: the number of input functions (a Python int).
    - `sensors`: $m$, the number of equispaced sensors in $[0, 1]$ (keyword-only;
      default 100, as in the paper).
    - `queries`: where $s$ is given (keyword-only): `None` (default) for the
      sensors, an int $Q$ for $Q$ equispaced points $i/(Q-1)$, or an array of
      points of shape `(Q,)` or `(Q, 1)`.
    - `length_scale`: $l$ (keyword-only; default 0.2, as in the paper).
    - `dtype`: the arrays' float dtype; `None` means JAX's default float.

    **Returns:** `((u, y), s)`, ready to be a data term's batch entry
    (`model(u_k, y_k)` against `s_k`, see `pinnlib.losses.data`):

    - `u` of shape `(num, m)`: each function at the sensors;
    - `y` of shape `(num, Q, 1)`: the query points (the same for every function);
    - `s` of shape `(num, Q)`: $s_k(y_q) = \int_0^{y_q} u_k$.

    It is jittable: `num`, `sensors`, an int `queries` and `length_scale` are static
    (Python values); the key and an array of query points may be traced.

    **Raises:** `ValueError` for a non-positive `num` or `sensors`, `sensors < 2`,
    a non-positive `length_scale` or malformed `queries`.

    !!! example

        ```python
        (u, y), s = pl.data.antiderivative_pairs(jax.random.key(0), 1000)
        u.shape, y.shape, s.shape          # (1000, 100), (1000, 100, 1), (1000, 100)
        net = pl.nn.DeepONet(100, key=jax.random.key(1))
        loss = pl.losses.combine(data=pl.losses.data())
        batches = pl.data.minibatches({"data": ((u, y), s)}, batch_size=100)
        ```
    """
    where = "pinnlib.data.antiderivative_pairs"
    num = check_positive_int(f"{where}(num=...)", num)
    sensors = check_positive_int(f"{where}(sensors=...)", sensors)
    if sensors < 2:
        raise bad_argument(
            f"{where}(sensors=...)",
            "at least 2 sensors (x_i = i / (m - 1))",
            sensors,
            "Use e.g. sensors=100, as in Lu et al.",
        )
    try:
        length_scale = float(length_scale)
    except (TypeError, ValueError):
        length_scale = math.nan
    if not (math.isfinite(length_scale) and length_scale > 0):
        raise bad_argument(
            f"{where}(length_scale=...)",
            "a positive finite float",
            length_scale,
            "Use e.g. length_scale=0.2, as in Lu et al.",
        )
    dtype = resolve_dtype(where, dtype)
    y = _queries(f"{where}(queries=...)", queries, sensors, dtype)
    coefficients = grf_coefficients(key, num, length_scale, dtype)
    x = jnp.linspace(0.0, 1.0, sensors, dtype=dtype)
    u = grf_values(coefficients, x, length_scale)
    s = grf_integrals(coefficients, y, length_scale)
    points = jnp.broadcast_to(y[None, :, None], (num, y.shape[0], 1))
    return (u, points), s
