"""Input embeddings: scaling to the domain, random Fourier features, periodic embedding.

Each is a layer acting on one point, with the ``key=None`` keyword that
``eqx.nn.Sequential`` passes, so a field is built as
``eqx.nn.Sequential([pl.nn.Normalize(...), pl.nn.mlp(...)])``.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._errors import bad_argument, check_positive_int
from ..diff import taylor


def _as_floats(where: str, values) -> tuple[float, ...]:
    # NumPy, not jnp: without x64, jnp.asarray would round the bounds to float32.
    floats = tuple(float(v) for v in np.ravel(np.asarray(values, np.float64)))
    if not all(math.isfinite(v) for v in floats):
        raise bad_argument(where, "finite numbers", values, "Pass finite bounds.")
    return floats


def _cos_sin(streams: taylor.Streams) -> taylor.Streams:
    r"""Streams of $[\cos z, \sin z]$ from those of $z$, sharing $\cos z$, $\sin z$.

    $(\cos z)_i = -\sin z\, z_i$, $(\cos z)_{ij} = -\cos z\, z_i z_j - \sin z\, z_{ij}$,
    $(\sin z)_i = \cos z\, z_i$, $(\sin z)_{ij} = -\sin z\, z_i z_j + \cos z\, z_{ij}$.
    """
    z, z1, z2 = streams
    cos, sin = jnp.cos(z), jnp.sin(z)
    first = {i: jnp.concatenate([-sin * d, cos * d]) for i, d in z1.items()}
    second = {}
    for (i, j), d in z2.items():
        curvature = z1[i] * z1[j]
        second[(i, j)] = jnp.concatenate(
            [-cos * curvature - sin * d, -sin * curvature + cos * d]
        )
    return jnp.concatenate([cos, sin]), first, second


def _concatenate(a: taylor.Streams, b: taylor.Streams) -> taylor.Streams:
    """Streams of the concatenation of two vectors."""
    (va, fa, sa), (vb, fb, sb) = a, b
    return (
        jnp.concatenate([va, vb]),
        {i: jnp.concatenate([fa[i], fb[i]]) for i in fa},
        {ij: jnp.concatenate([sa[ij], sb[ij]]) for ij in sa},
    )


class Normalize(eqx.Module):
    r"""Affine map of a domain's bounding box onto $[-1, 1]^d$.

    $\hat x_i = 2 (x_i - a_i) / (b_i - a_i) - 1$. Networks train best on inputs of
    order one; put this first in a field whose domain is not $[-1, 1]^d$.

    **Arguments:**

    - `lower`, `upper`: sequences of $d$ floats, the box $[a, b]$ (for example
      `domain.lower`, `domain.upper`).

    !!! example

        ```python
        u = eqx.nn.Sequential([pl.nn.Normalize((0.0, 0.0), (2.0, 1.0)),
                               pl.nn.mlp(2, key=jax.random.key(0))])
        ```
    """

    lower: tuple[float, ...] = eqx.field(static=True)
    upper: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, lower: Sequence[float], upper: Sequence[float]):
        self.lower = _as_floats("pinnlib.nn.Normalize(lower=...)", lower)
        self.upper = _as_floats("pinnlib.nn.Normalize(upper=...)", upper)

    def __check_init__(self):
        if len(self.lower) != len(self.upper) or any(
            a >= b for a, b in zip(self.lower, self.upper)
        ):
            raise bad_argument(
                "pinnlib.nn.Normalize(lower=..., upper=...)",
                "bounds of equal length with lower < upper",
                (self.lower, self.upper),
                "Pass the domain's lower and upper corners.",
            )

    @property
    def out_size(self) -> int:
        return len(self.lower)

    def __call__(self, x: Float[Array, " d"], *, key=None) -> Float[Array, " d"]:
        lower = jnp.asarray(self.lower, x.dtype)
        scale = 2.0 / (jnp.asarray(self.upper, x.dtype) - lower)
        return (x - lower) * scale - 1.0


class FourierFeatures(eqx.Module):
    r"""Random Fourier features $\gamma(x) = [\cos(2\pi B x), \sin(2\pi B x)]$.

    $B \in \mathbb{R}^{k \times d}$ has entries $\mathcal{N}(0, \sigma^2)$. It is fixed
    (held under `stop_gradient`) by default, as in Tancik et al. (2020) and Wang, Wang &
    Perdikaris (2021) for multi-scale PINNs; with `trainable=True` it is a parameter
    trained with the rest of the network, as in the Allen–Cahn recipe of Wang et al.,
    "An expert's guide to training physics-informed neural networks" (2023).

    **Arguments:**

    - `in_size`: point dimension $d$.
    - `num_features`: $k$; the output has $2k$ entries (`out_size`).
    - `scale`: $\sigma$ (keyword-only, default 1.0); larger values fit higher
      frequencies.
    - `key`: PRNG key (keyword-only). `dtype`: default float dtype if `None`.
    - `trainable`: whether gradients flow into $B$ (keyword-only, default `False`).

    **Derivatives:** its `taylor_streams` method opts it into the fused derivative
    path of `pinnlib.diff` (see `pinnlib.diff.taylor`), also as a layer of an
    `eqx.nn.Sequential` in front of a network that opts in.

    !!! example

        ```python
        ff = pl.nn.FourierFeatures(2, 64, scale=2.0, key=jax.random.key(0))
        u = eqx.nn.Sequential([ff, pl.nn.mlp(ff.out_size, key=jax.random.key(1))])
        learned = pl.nn.FourierFeatures(3, 64, scale=0.3, trainable=True,
                                        key=jax.random.key(2))
        ```
    """

    frequencies: Float[Array, "k d"]
    trainable: bool = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        num_features: int,
        *,
        scale: float = 1.0,
        key: PRNGKeyArray,
        dtype=None,
        trainable: bool = False,
    ):
        in_size = check_positive_int("pinnlib.nn.FourierFeatures(in_size=...)", in_size)
        if not isinstance(trainable, bool):
            raise bad_argument(
                "pinnlib.nn.FourierFeatures(trainable=...)",
                "a bool",
                trainable,
                "Pass trainable=True to learn the frequencies.",
            )
        self.trainable = trainable
        k = check_positive_int(
            "pinnlib.nn.FourierFeatures(num_features=...)", num_features
        )
        dtype = jnp.zeros((), dtype).dtype
        self.frequencies = scale * jax.random.normal(key, (k, in_size), dtype)

    @property
    def out_size(self) -> int:
        return 2 * self.frequencies.shape[0]

    def _phase(self, x: Float[Array, " d"]) -> Float[Array, " k"]:
        """$z = 2\\pi B x$, with $B$ under `stop_gradient` unless trainable."""
        frequencies = self.frequencies
        if not self.trainable:
            frequencies = jax.lax.stop_gradient(frequencies)
        return 2 * jnp.pi * (frequencies @ x)

    def __call__(self, x: Float[Array, " d"], *, key=None) -> Float[Array, " f"]:
        z = self._phase(x)
        return jnp.concatenate([jnp.cos(z), jnp.sin(z)])

    def taylor_streams(
        self,
        value: Float[Array, " d"],
        first: dict[int, Float[Array, " d"]],
        second: dict[tuple[int, int], Float[Array, " d"]],
    ) -> taylor.Streams:
        r"""`__call__` on second-order Taylor streams (see `pinnlib.diff.taylor`).

        The phase $z = 2\pi B x$ is linear in $x$, so its streams are
        $z_i = 2\pi B x_i$ and $z_{ij} = 2\pi B x_{ij}$. Then, with $\cos z$ and
        $\sin z$ evaluated once and shared by all streams,

        $$
        \begin{aligned}
        \gamma &= [\cos z,\ \sin z], \qquad
        \gamma_i = [-\sin z \odot z_i,\ \cos z \odot z_i], \\
        \gamma_{ij} &= [-\cos z \odot z_i z_j - \sin z \odot z_{ij},\
        -\sin z \odot z_i z_j + \cos z \odot z_{ij}].
        \end{aligned}
        $$

        $B$ is under `stop_gradient` unless `trainable`, as in `__call__`.
        """
        return _cos_sin(taylor.linear(self._phase, (value, first, second)))


class PeriodicEmbedding(eqx.Module):
    r"""Exact periodicity: $x_i \mapsto (\cos(2\pi x_i / P_i), \sin(2\pi x_i / P_i))$.

    Coordinates in `axes` are replaced by a cosine/sine pair, so any network applied
    after it is exactly $P_i$-periodic in $x_i$ (Dong & Ni 2021); the other
    coordinates pass through unchanged, first, in their original order.

    **Arguments:**

    - `in_size`: point dimension $d$.
    - `axes`: the periodic coordinates (ints, negative allowed).
    - `periods`: their periods $P_i$ (floats, same length as `axes`).

    **Derivatives:** its `taylor_streams` method opts it into the fused derivative
    path of `pinnlib.diff` (see `pinnlib.diff.taylor`), also as a layer of an
    `eqx.nn.Sequential` in front of a network that opts in.

    !!! example

        ```python
        emb = pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))  # x periodic on [-1, 1]
        u = eqx.nn.Sequential([emb, pl.nn.mlp(emb.out_size, key=jax.random.key(0))])
        ```
    """

    in_size: int = eqx.field(static=True)
    axes: tuple[int, ...] = eqx.field(static=True)
    periods: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, in_size: int, *, axes: Sequence[int], periods: Sequence[float]):
        self.in_size = check_positive_int(
            "pinnlib.nn.PeriodicEmbedding(in_size=...)", in_size
        )
        axes = tuple(int(a) for a in axes)
        if not axes or any(not -in_size <= a < in_size for a in axes):
            raise bad_argument(
                "pinnlib.nn.PeriodicEmbedding(axes=...)",
                f"a non-empty tuple of axes in [-{in_size}, {in_size})",
                axes,
                "Name the periodic coordinates by index.",
            )
        self.axes = tuple(a % in_size for a in axes)
        self.periods = _as_floats("pinnlib.nn.PeriodicEmbedding(periods=...)", periods)
        if len(self.periods) != len(self.axes) or min(self.periods) <= 0:
            raise bad_argument(
                "pinnlib.nn.PeriodicEmbedding(periods=...)",
                f"{len(self.axes)} positive periods (one per axis)",
                periods,
                "Give one positive period per periodic axis.",
            )

    @property
    def out_size(self) -> int:
        return self.in_size + len(self.axes)

    def _kept(self, x: Float[Array, " d"]) -> Float[Array, " m"]:
        keep = [i for i in range(self.in_size) if i not in self.axes]
        return x[jnp.asarray(keep, int)]

    def _angles(self, x: Float[Array, " d"]) -> Float[Array, " p"]:
        return x[jnp.asarray(self.axes)] * jnp.asarray(
            [2 * math.pi / p for p in self.periods], x.dtype
        )

    def __call__(self, x: Float[Array, " d"], *, key=None) -> Float[Array, " f"]:
        angles = self._angles(x)
        return jnp.concatenate([self._kept(x), jnp.cos(angles), jnp.sin(angles)])

    def taylor_streams(
        self,
        value: Float[Array, " d"],
        first: dict[int, Float[Array, " d"]],
        second: dict[tuple[int, int], Float[Array, " d"]],
    ) -> taylor.Streams:
        r"""`__call__` on second-order Taylor streams (see `pinnlib.diff.taylor`).

        The kept coordinates and the angles $\theta = 2\pi x_a / P_a$ are linear in
        $x$; the pairs follow as $(\cos\theta)_i = -\sin\theta\, \theta_i$,
        $(\cos\theta)_{ij} = -\cos\theta\, \theta_i \theta_j - \sin\theta\,
        \theta_{ij}$ and likewise for $\sin\theta$, with $\cos\theta$ and
        $\sin\theta$ shared by all streams.
        """
        streams = (value, first, second)
        angles = taylor.linear(self._angles, streams)
        return _concatenate(taylor.linear(self._kept, streams), _cos_sin(angles))
