"""Derivatives of fields sampled on a grid: spectral (periodic) and finite differences.

Operators (`pinnlib.nn.FNO`) output whole grids, not point functions; their
physics-informed losses differentiate the grid values instead of the network.
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._errors import bad_argument, check_positive_int


def spectral_derivative(
    values: Float[Array, "*shape"],
    *,
    axis: int = -1,
    order: int = 1,
    length: float = 1.0,
) -> Float[Array, "*shape"]:
    r"""The derivative of a periodic field along one grid axis, by the FFT.

    For $u$ sampled at $x_j = jL/n$, $j = 0..n-1$, on a period $L$:

    $$\partial_x^p u(x_j) = \mathcal{F}^{-1}\big[(2\pi i k / L)^p\, \hat u_k\big]_j,
      \qquad |k| \le n / 2,$$

    exact for trigonometric polynomials of degree below $n/2$ (spectral accuracy
    for smooth periodic fields). For odd $p$ on an even grid the Nyquist mode
    $k = n/2$ is dropped, as its derivative is not real.

    **Arguments:** `values` (any shape), `axis` the periodic grid axis, `order` $p
    \ge 1$, `length` the period $L$ (keyword-only).

    **Returns:** an array of the shape and dtype of `values`.

    !!! example

        ```python
        x = jnp.arange(64) / 64
        du = pl.diff.spectral_derivative(jnp.sin(2 * jnp.pi * x))   # 2π cos(2πx)
        ```
    """
    order = check_positive_int("pinnlib.diff.spectral_derivative(order=...)", order)
    n = values.shape[axis]
    k = np.fft.rfftfreq(n, d=1.0 / n)
    if order % 2 and n % 2 == 0:
        k[-1] = 0.0
    factor = (2j * np.pi * k / length) ** order
    shape = [1] * values.ndim
    shape[axis] = k.size
    spectrum = jnp.fft.rfft(values, axis=axis) * factor.reshape(shape)
    return jnp.fft.irfft(spectrum, n=n, axis=axis).astype(values.dtype)


# One-sided and central first-derivative stencils (times 1/h).
_INTERIOR = {2: np.array([-0.5, 0.0, 0.5]), 4: np.array([1, -8, 0, 8, -1]) / 12}
_EDGE = {
    2: [np.array([-1.5, 2.0, -0.5])],
    4: [np.array([-25, 48, -36, 16, -3]) / 12, np.array([-3, -10, 18, -6, 1]) / 12],
}


def finite_difference(
    values: Float[Array, "*shape"],
    *,
    spacing: float,
    axis: int = -1,
    accuracy: int = 2,
) -> Float[Array, "*shape"]:
    r"""The first derivative along one grid axis by finite differences.

    Central differences inside, one-sided ones at the two ends, all of order
    `accuracy` in the spacing $h$ (the error is $O(h^2)$ or $O(h^4)$ up to the
    ends): for order 2,

    $$u'_j \approx \frac{u_{j+1} - u_{j-1}}{2h}, \qquad
      u'_0 \approx \frac{-3u_0 + 4u_1 - u_2}{2h},$$

    and for order 4, $(u_{j-2} - 8u_{j-1} + 8u_{j+1} - u_{j+2}) / 12h$ inside with
    the fourth-order one-sided stencils on the first and last two points. Use it on
    non-periodic axes, such as time in a physics-informed neural operator's
    space-time output (Li et al. 2021, "Physics-informed neural operator for
    learning partial differential equations", arXiv:2111.03794, section 3.3).

    **Arguments:** `values` (any shape); `spacing` $h > 0$; `axis`; `accuracy` 2
    or 4 (keyword-only). The axis needs at least 3 (order 2) or 5 (order 4) points.

    **Returns:** an array of the shape of `values`.

    !!! example

        ```python
        t = jnp.linspace(0.0, 1.0, 33)
        pl.diff.finite_difference(t**2, spacing=1 / 32)   # 2t, exact for order 2
        ```
    """
    if accuracy not in _INTERIOR:
        raise bad_argument(
            "pinnlib.diff.finite_difference(accuracy=...)",
            "2 or 4",
            accuracy,
            "Pass accuracy=2 (three-point stencils) or accuracy=4 (five-point).",
        )
    interior = _INTERIOR[accuracy]
    n, width = values.shape[axis], interior.size
    if n < width:
        raise bad_argument(
            "pinnlib.diff.finite_difference(values=...)",
            f"at least {width} points along axis {axis} for accuracy {accuracy}",
            values.shape,
            "Sample the axis more finely, or use accuracy=2.",
        )
    u = jnp.moveaxis(values, axis, 0)
    inside = sum(c * u[i : n - width + 1 + i] for i, c in enumerate(interior) if c)
    first = [sum(c * u[i] for i, c in enumerate(s)) for s in _EDGE[accuracy]]
    last = [-sum(c * u[n - 1 - i] for i, c in enumerate(s)) for s in _EDGE[accuracy]]
    derivative = jnp.concatenate(
        [jnp.stack(first), inside, jnp.stack(last[::-1])]
    ) / jnp.asarray(spacing, values.dtype)
    return jnp.moveaxis(derivative, 0, axis)
