"""The Fourier neural operator (Li et al. 2021): spectral convolutions on a grid."""

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_positive_int
from ._mlp import activation_fn


def _kept_indices(grid: Sequence[int], modes: Sequence[int]) -> list[np.ndarray]:
    r"""Indices of the kept modes along each axis of an `rfftn` output.

    The frequencies $-m \le k < m$ of every axis but the last (the first `m` and
    last `m` entries of a full axis), and $0 \le k < m$ of the last (half) axis.
    """
    kept = [np.r_[0:m, n - m : n] for n, m in zip(grid[:-1], modes[:-1])]
    return kept + [np.arange(modes[-1])]


def _frequencies(n: int, m: int, half: bool) -> np.ndarray:
    """The kept frequencies of an axis: $0..m-1$ (half), or $0..m-1, -m..-1$."""
    return np.arange(m) if half else np.r_[0:m, -m:0]


def _along(x: Array, matrix, axis: int) -> Array:
    """`matrix` (n, k) applied to axis `axis` of `x` (n entries become k)."""
    out = jnp.tensordot(x, jnp.asarray(matrix, x.dtype), axes=([axis], [0]))
    return jnp.moveaxis(out, -1, axis)


def _angles(n: int, m: int, half: bool) -> np.ndarray:
    r"""$2\pi x_j k / n$ for the grid points $j$ (rows) and kept frequencies $k$."""
    return 2 * np.pi * np.outer(np.arange(n), _frequencies(n, m, half)) / n


def _truncated_dft(v: Array, modes: Sequence[int]) -> tuple[Array, Array]:
    r"""Real and imaginary parts of the kept modes of `rfftn(v)`, by matrix products.

    $\hat v_k = \sum_x v_x e^{-2\pi i k x / n}$ axis by axis, the last (real) axis
    first, where the number of entries drops from $n$ to $m$ soonest.
    """
    grid, last = v.shape[1:], v.ndim - 1
    angle = _angles(grid[-1], modes[-1], True)
    real, imag = _along(v, np.cos(angle), last), _along(v, -np.sin(angle), last)
    for axis, (n, m) in enumerate(zip(grid[:-1], modes[:-1]), start=1):
        c, s = np.cos(_angles(n, m, False)), -np.sin(_angles(n, m, False))
        real, imag = (
            _along(real, c, axis) - _along(imag, s, axis),
            _along(real, s, axis) + _along(imag, c, axis),
        )
    return real, imag


def _inverse_truncated_dft(real: Array, imag: Array, grid: Sequence[int]) -> Array:
    r"""`irfftn` of a spectrum that is zero outside the kept modes, by matrix products.

    $u_x = \frac1N \sum_k c_k \operatorname{Re}(\hat u_k e^{2\pi i k x / n})$
    with $c_k = 2$ on the last axis for $0 < k < n/2$ (the conjugate half), else 1.
    """
    kept = real.shape[1:]  # 2m entries on full axes, m on the last
    for axis, n in enumerate(grid[:-1], start=1):
        angle = _angles(n, kept[axis - 1] // 2, False).T
        c, s = np.cos(angle) / n, np.sin(angle) / n
        real, imag = (
            _along(real, c, axis) - _along(imag, s, axis),
            _along(real, s, axis) + _along(imag, c, axis),
        )
    n, m = grid[-1], kept[-1]
    k = np.arange(m)
    weight = np.where((k == 0) | (2 * k == n), 1.0, 2.0)[:, None] / n
    angle = _angles(n, m, True).T
    last = real.ndim - 1
    return _along(real, weight * np.cos(angle), last) - _along(
        imag, weight * np.sin(angle), last
    )


def _check_grid(where: str, grid: Sequence[int], modes: Sequence[int]) -> None:
    small = [
        (n, m)
        for i, (n, m) in enumerate(zip(grid, modes))
        if (n < 2 * m if i < len(grid) - 1 else n // 2 + 1 < m)
    ]
    if small:
        raise bad_argument(
            where,
            f"a grid with at least 2 * modes points per axis (modes {tuple(modes)})",
            f"a grid of shape {tuple(grid)}",
            "Evaluate on a finer grid, or build the operator with fewer modes.",
        )


class SpectralConv(eqx.Module):
    r"""A spectral convolution: a linear map on the lowest Fourier modes of a grid field.

    $$(\mathcal{K} v)(x) = \mathcal{F}^{-1}\big(R \cdot (\mathcal{F} v)\big)(x),
      \qquad (R \cdot \hat v)_{o,k} = \sum_i R_{o,i,k}\, \hat v_{i,k}
      \ \text{for } |k_j| < m_j, \quad 0 \text{ otherwise},$$

    with $\mathcal{F}$ the real Fourier transform over the grid axes and $R$ a
    complex weight per kept mode: all $2^{d-1}$ corners of the low frequencies in
    $d$ dimensions (both signs on every axis but the last, halved by the real FFT).
    The weights are stored as real and imaginary parts, real arrays that optax
    updates like any other parameter. With the unnormalised forward FFT and the
    normalised inverse, the same weights act on the same frequencies at every grid
    size: the layer is resolution-independent (Li, Kovachki, Azizzadenesheli, Liu,
    Bhattacharya, Stuart & Anandkumar, "Fourier neural operator for parametric
    partial differential equations", ICLR 2021, eq. (4)-(5)).

    **Arguments:** `in_channels`, `out_channels`; `modes` (an int per grid axis, a
    tuple of length $d$); `key`; `dtype` (real parameter dtype); `transform`:
    `"dft"` (default; products with the Fourier matrices of the kept frequencies,
    real arithmetic) or `"fft"` (`jnp.fft.rfftn` and `irfftn`). Weights are
    $\frac{1}{c_\text{in} c_\text{out}}\, \mathcal{U}[0, 1)$ in both parts, as in
    the paper's code.

    **Call:** `conv(v)` with `v` of shape `(in_channels, n_1, ..., n_d)`, $n_j \ge 2
    m_j$ (the last axis: $n_d / 2 + 1 \ge m_d$); returns `(out_channels, n_1, ...,
    n_d)`.

    !!! example

        ```python
        conv = pl.nn.SpectralConv(2, 3, modes=(8,), key=jax.random.key(0))
        conv(jnp.ones((2, 64))).shape    # (3, 64)
        ```
    """

    weights: Float[Array, "2 i o *k"]
    modes: tuple[int, ...] = eqx.field(static=True)
    transform: Literal["dft", "fft"] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        key: PRNGKeyArray,
        dtype=None,
        transform: str = "dft",
    ):
        where = "pinnlib.nn.SpectralConv"
        if transform not in ("dft", "fft"):
            raise bad_argument(
                f"{where}(transform=...)",
                "'dft' or 'fft'",
                transform,
                "Use 'dft' (matrix products, faster on CPUs for a few modes) or 'fft'.",
            )
        check_positive_int(f"{where}(in_channels=...)", in_channels)
        check_positive_int(f"{where}(out_channels=...)", out_channels)
        modes = _modes(where, modes)
        shape = (in_channels, out_channels, *(2 * m for m in modes[:-1]), modes[-1])
        scale = 1.0 / (in_channels * out_channels)
        dtype = resolve_dtype(where, dtype)
        self.weights = scale * jax.random.uniform(key, (2, *shape), dtype)
        self.modes = modes
        self.transform = transform  # pyright: ignore[reportAttributeAccessIssue]

    def __call__(self, v: Float[Array, " i *grid"]) -> Float[Array, " o *grid"]:
        grid = v.shape[1:]
        if len(grid) != len(self.modes):
            raise bad_argument(
                "pinnlib.nn.SpectralConv: input",
                f"an array (channels, *grid) with {len(self.modes)} grid axes",
                v.shape,
                "Put the channels first and one axis per dimension after them.",
            )
        _check_grid("pinnlib.nn.SpectralConv: input", grid, self.modes)
        if self.transform == "dft":
            real, imag = _truncated_dft(v, self.modes)
            w_real, w_imag = self.weights[0], self.weights[1]
            mix = functools.partial(jnp.einsum, "i...,io...->o...")
            out_real = mix(real, w_real) - mix(imag, w_imag)
            out_imag = mix(real, w_imag) + mix(imag, w_real)
            return _inverse_truncated_dft(out_real, out_imag, grid)
        axes = tuple(range(1, v.ndim))
        spectrum = jnp.fft.rfftn(v, axes=axes)
        where = (slice(None),) + jnp.ix_(*_kept_indices(grid, self.modes))
        weights = jax.lax.complex(self.weights[0], self.weights[1])
        mixed = jnp.einsum("i...,io...->o...", spectrum[where], weights)
        half = (*grid[:-1], grid[-1] // 2 + 1)
        out = jnp.zeros((mixed.shape[0], *half), mixed.dtype).at[where].set(mixed)
        return jnp.fft.irfftn(out, s=grid, axes=axes).astype(v.dtype)


class _Pointwise(eqx.Module):
    """A linear map of the channels at every grid point (a 1×1 convolution)."""

    weight: Float[Array, "o i"]
    bias: Float[Array, " o"]

    def __init__(self, in_channels: int, out_channels: int, *, key, dtype):
        bound = 1.0 / np.sqrt(in_channels)
        wkey, bkey = jax.random.split(key)
        self.weight = jax.random.uniform(
            wkey, (out_channels, in_channels), dtype, -bound, bound
        )
        self.bias = jax.random.uniform(bkey, (out_channels,), dtype, -bound, bound)

    def __call__(self, v: Float[Array, " i *grid"]) -> Float[Array, " o *grid"]:
        out = jnp.tensordot(self.weight, v, axes=1)
        return out + self.bias.reshape(-1, *(1,) * (v.ndim - 1))


def _modes(where: str, modes) -> tuple[int, ...]:
    modes = (modes,) if isinstance(modes, int) else tuple(modes)
    if not modes or not all(
        isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in modes
    ):
        raise bad_argument(
            f"{where}(modes=...)",
            "a positive int per grid axis (a tuple of length d)",
            modes,
            "Pass e.g. modes=(16,) in 1-d or modes=(12, 12) in 2-d.",
        )
    return modes


Coordinates = Literal["nodes", "periodic"] | None
_COORDINATES = ("nodes", "periodic", None)


def _per_axis(where: str, value, d: int, valid, expected: str, fix: str) -> tuple:
    """`value` repeated for `d` grid axes, or a tuple of `d` values, each checked."""
    values = tuple(value) if isinstance(value, tuple | list) else (value,) * d
    if len(values) != d or not all(valid(v) for v in values):
        raise bad_argument(where, f"{expected}, or a tuple of {d} of them", value, fix)
    return values


def _valid_padding(p) -> bool:
    if isinstance(p, bool):
        return False
    return (isinstance(p, int) and p >= 0) or (isinstance(p, float) and 0 <= p < 1)


def _coordinates(grid: Sequence[int], kinds: Sequence[Coordinates], dtype) -> Array:
    """`(k, *grid)` coordinates on $[0, 1]$ of the axes whose kind is not None."""
    axes = [
        jnp.linspace(0.0, 1.0, n, dtype=dtype)
        if kind == "nodes"
        else jnp.arange(n, dtype=dtype) / n
        for n, kind in zip(grid, kinds)
    ]
    mesh = jnp.meshgrid(*axes, indexing="ij")
    return jnp.stack([x for x, kind in zip(mesh, kinds) if kind is not None])


class FNO(eqx.Module):
    r"""The Fourier neural operator of Li et al. (2021), in any number of dimensions.

    An operator $\mathcal{G}_\theta: a \mapsto u$ between fields sampled on a grid:

    $$v_0 = P\big(a(x), x\big), \qquad
      v_{l+1} = \sigma\big(W_l v_l + \mathcal{K}_l v_l\big),\ l < L - 1, \qquad
      v_L = W_{L-1} v_{L-1} + \mathcal{K}_{L-1} v_{L-1}, \qquad
      u = Q(v_L),$$

    with $P$ a pointwise lifting of the input channels (and the grid coordinates
    $x$) to `width` channels, $\mathcal{K}_l$ `pinnlib.nn.SpectralConv` layers
    keeping `modes` frequencies per axis, $W_l$ pointwise linear maps, and $Q$ a
    pointwise two-layer projection ($\text{width} \to \text{projection} \to
    \text{out}$, activation between). Li, Kovachki, Azizzadenesheli, Liu,
    Bhattacharya, Stuart & Anandkumar, "Fourier neural operator for parametric
    partial differential equations", ICLR 2021, eq. (2)-(5); no activation after the
    last Fourier layer, as in the paper's code.

    Resolution-independent: the parameters do not depend on the grid, so an FNO
    trained at one resolution evaluates at another (exactly so for band-limited
    fields and a linear $\sigma$; up to the aliasing of the nonlinearity otherwise).
    For non-periodic fields, `padding` appends zeros after each grid axis before the
    Fourier layers and crops them after, so the FFT's periodicity does not tie the
    two ends of the domain together (the paper pads Darcy by 9 points at 85²).

    **Arguments:**

    - `in_channels`, `out_channels`: channels of $a$ and of $u$.
    - `modes`: kept frequencies per grid axis, an int (1-d) or a tuple (keyword).
    - `width`: channels of the Fourier layers (default 64); `depth`: their number
      $L$ (default 4); `projection`: the hidden width of $Q$ (default 128).
    - `activation`: a name from `pinnlib.nn.ACTIVATIONS` or a callable (default
      `"gelu"`).
    - `coordinates`: append the grid coordinates as input channels: `"nodes"`
      ($x_i = i / (n - 1)$, both ends of $[0, 1]$ included, the default),
      `"periodic"` ($x_i = i / n$ on $[0, 1)$) or `None` (no coordinates: the
      operator is then translation-equivariant on a periodic domain); or a tuple
      with one of these per grid axis.
    - `padding`: zeros appended after each grid axis: an int (points), or a float
      in $[0, 1)$, a fraction of the axis length (resolution-independent; default
      0, no padding); or a tuple with one per grid axis (pad a non-periodic time
      axis but not a periodic space axis).
    - `transform`: how the spectral layers find the kept modes: `"dft"` (default),
      products with the $n \times m$ Fourier matrices of the kept frequencies, or
      `"fft"`, `jnp.fft.rfftn` and its inverse; the same numbers to rounding. With
      few modes the matrix products are much faster on CPUs (7× for a 64 × 64
      grid, 12 modes, 32 channels, forward and backward); the FFT wins on large
      grids with many modes.
    - `key`, `dtype`.

    **Call:** `fno(a)` with `a` of shape `(in_channels, n_1, ..., n_d)`; returns
    `(out_channels, n_1, ..., n_d)`. Batch with `jax.vmap`.

    !!! example

        ```python
        fno = pl.nn.FNO(1, 1, modes=16, width=32, key=jax.random.key(0))
        u = jax.vmap(fno)(a[:, None])          # a (batch, 256) -> u (batch, 1, 256)

        darcy = pl.nn.FNO(1, 1, modes=(12, 12), width=32, padding=9,
                          key=jax.random.key(1))
        darcy(jnp.ones((1, 64, 64))).shape     # (1, 64, 64)
        ```
    """

    lift: _Pointwise
    spectral: tuple[SpectralConv, ...]
    pointwise: tuple[_Pointwise, ...]
    project: tuple[_Pointwise, _Pointwise]
    activation: Callable = eqx.field(static=True)
    coordinates: tuple[Coordinates, ...] = eqx.field(static=True)
    padding: tuple[int | float, ...] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        modes: int | Sequence[int],
        width: int = 64,
        depth: int = 4,
        projection: int = 128,
        activation: str | Callable = "gelu",
        coordinates: str | None | Sequence[str | None] = "nodes",
        padding: int | float | Sequence[int | float] = 0,
        transform: str = "dft",
        key: PRNGKeyArray,
        dtype=None,
    ):
        where = "pinnlib.nn.FNO"
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("width", width),
            ("depth", depth),
            ("projection", projection),
        ):
            check_positive_int(f"{where}({name}=...)", value)
        modes = _modes(where, modes)
        d = len(modes)
        coordinates = _per_axis(
            f"{where}(coordinates=...)",
            coordinates,
            d,
            lambda c: c in _COORDINATES,
            "'nodes', 'periodic' or None",
            "Use 'nodes' for grids that include both ends of [0, 1].",
        )
        padding = _per_axis(
            f"{where}(padding=...)",
            padding,
            d,
            _valid_padding,
            "an int >= 0 (points) or a float in [0, 1) (a fraction of the axis)",
            "Pass e.g. padding=9, padding=0.125 or padding=(0, 0.25).",
        )
        dtype = resolve_dtype(where, dtype)
        keys = jax.random.split(key, 2 * depth + 3)
        lifted = in_channels + sum(c is not None for c in coordinates)
        self.lift = _Pointwise(lifted, width, key=keys[0], dtype=dtype)
        self.spectral = tuple(
            SpectralConv(width, width, modes, key=k, dtype=dtype, transform=transform)
            for k in keys[1 : depth + 1]
        )
        self.pointwise = tuple(
            _Pointwise(width, width, key=k, dtype=dtype)
            for k in keys[depth + 1 : 2 * depth + 1]
        )
        self.project = (
            _Pointwise(width, projection, key=keys[-2], dtype=dtype),
            _Pointwise(projection, out_channels, key=keys[-1], dtype=dtype),
        )
        self.activation = activation_fn(where, activation)
        self.coordinates = coordinates
        self.padding = padding

    @property
    def modes(self) -> tuple[int, ...]:
        """Kept frequencies per grid axis."""
        return self.spectral[0].modes

    def _pad_widths(self, grid: Sequence[int]) -> list[int]:
        return [
            int(round(p * n)) if isinstance(p, float) else p
            for p, n in zip(self.padding, grid)
        ]

    def __call__(self, a: Float[Array, " c *grid"]) -> Float[Array, " o *grid"]:
        modes = self.modes
        extra = sum(c is not None for c in self.coordinates)
        if a.ndim != len(modes) + 1 or a.shape[0] != self.lift.weight.shape[1] - extra:
            raise bad_argument(
                "pinnlib.nn.FNO: input",
                f"an array (in_channels, *grid) with {len(modes)} grid axes",
                a.shape,
                "Put the channels first: a[None] adds a channel axis to one field.",
            )
        grid = a.shape[1:]
        if extra:
            a = jnp.concatenate([a, _coordinates(grid, self.coordinates, a.dtype)])
        v = self.lift(a)
        pads = self._pad_widths(grid)
        v = jnp.pad(v, [(0, 0)] + [(0, p) for p in pads])
        layers = list(zip(self.spectral, self.pointwise))
        for index, (conv, linear) in enumerate(layers):
            v = conv(v) + linear(v)
            if index < len(layers) - 1:
                v = self.activation(v)
        v = v[(slice(None),) + tuple(slice(0, n) for n in grid)]
        return self.project[1](self.activation(self.project[0](v)))
