"""Random weight factorization: dense layers $W = \\operatorname{diag}(e^s) V$ and MLPs.

Wang, Wang, Perdikaris et al., "Random weight factorization improves the training of
continuous neural representations" (2022), arXiv:2210.01274.
"""

import math
from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_positive_int
from ..diff import taylor
from ._mlp import activation_fn, check_sizes

DEFAULT_FACTORIZATION = (1.0, 0.1)  # (mean, std) of s, as in the paper and jaxpi


def _glorot(key: PRNGKeyArray, in_size: int, out_size: int, dtype) -> Array:
    """Glorot-normal ``(out_size, in_size)`` matrix, std ``sqrt(2 / (in + out))``."""
    std = math.sqrt(2.0 / (in_size + out_size))
    return std * jax.random.normal(key, (out_size, in_size), dtype)


def _check_mean_std(where: str, mean, std) -> tuple[float, float]:
    try:
        mean, std = float(mean), float(std)
    except (TypeError, ValueError):
        mean = std = math.nan
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        raise bad_argument(
            f"{where}(mean=..., std=...)",
            "a finite mean and a finite std >= 0 (Python floats)",
            (mean, std),
            "Use the paper's defaults mean=1.0, std=0.1.",
        )
    return mean, std


class FactorizedLinear(eqx.Module):
    r"""Dense layer with random weight factorization: $y = \operatorname{diag}(e^{s}) V x + b$.

    Each output neuron $i$ has a trainable scale $e^{s_i}$, and the layer's weight is
    $W = \operatorname{diag}(e^{s}) V$ with $s \in \mathbb{R}^{m}$ and
    $V \in \mathbb{R}^{m \times n}$ trained instead of $W$ (Wang, Wang, Perdikaris et
    al. 2022, arXiv:2210.01274). At initialisation the layer equals a Glorot-normal
    dense layer: with `w_key, s_key = jax.random.split(key)`,

    $W_0 = \sqrt{2/(n+m)}\;\mathcal{N}(0, 1)^{m \times n}$ (drawn with `w_key`),
    $s = \mu + \sigma\,\mathcal{N}(0, 1)^{m}$ (drawn with `s_key`),
    $V = \operatorname{diag}(e^{-s}) W_0$, $b = 0$.

    Only the parametrisation changes, and with it the training dynamics. Here $s$
    itself is the trained parameter, as in the paper (jaxpi trains $e^{s}$).

    **Arguments:**

    - `in_size`, `out_size`: $n$ and $m$ (positive ints).
    - `key`: a PRNG key (keyword-only).
    - `mean`, `std`: $\mu$ and $\sigma$ of $s$ (keyword-only; defaults 1.0 and 0.1,
      the paper's values).
    - `dtype`: parameter dtype; `None` means JAX's default float dtype.

    **Attributes:** `s` of shape `(m,)`, `v` of shape `(m, n)`, `bias` of shape
    `(m,)`; the property `weight` is $\operatorname{diag}(e^{s}) V$.

    **Raises:** `ValueError` for non-positive sizes, a non-finite `mean`/`std` or a
    negative `std`, or a dtype JAX cannot create.

    !!! example

        ```python
        layer = pl.nn.FactorizedLinear(2, 8, key=jax.random.key(0))
        layer(jnp.array([0.5, 0.1]))   # shape (8,), equals layer.weight @ x + layer.bias
        ```
    """

    s: Float[Array, " n_out"]
    v: Float[Array, "n_out n_in"]
    bias: Float[Array, " n_out"]

    def __init__(
        self,
        in_size: int,
        out_size: int,
        *,
        key: PRNGKeyArray,
        mean: float = 1.0,
        std: float = 0.1,
        dtype=None,
    ):
        where = "pinnlib.nn.FactorizedLinear"
        in_size = check_positive_int(f"{where}(in_size=...)", in_size)
        out_size = check_positive_int(f"{where}(out_size=...)", out_size)
        mean, std = _check_mean_std(where, mean, std)
        dtype = resolve_dtype(where, dtype)
        w_key, s_key = jax.random.split(key)
        weight = _glorot(w_key, in_size, out_size, dtype)
        self.s = mean + std * jax.random.normal(s_key, (out_size,), dtype)
        self.v = weight / jnp.exp(self.s)[:, None]
        self.bias = jnp.zeros((out_size,), dtype)

    @property
    def in_size(self) -> int:
        return self.v.shape[1]

    @property
    def out_size(self) -> int:
        return self.v.shape[0]

    @property
    def weight(self) -> Float[Array, "n_out n_in"]:
        """The effective weight $\\operatorname{diag}(e^{s}) V$."""
        return jnp.exp(self.s)[:, None] * self.v

    def __call__(self, x: Float[Array, " n_in"], *, key=None) -> Float[Array, " n_out"]:
        return self.weight @ x + self.bias


def _first(a: Array) -> Array:
    return a[0]


def _dense(
    where: str,
    key: PRNGKeyArray,
    in_size: int,
    out_size: int,
    dtype,
    factorization: tuple[float, float] | None,
) -> "eqx.nn.Linear | FactorizedLinear":
    """A Glorot-normal dense layer with zero bias: plain or factorized."""
    if factorization is not None:
        mean, std = factorization
        return FactorizedLinear(
            in_size, out_size, key=key, mean=mean, std=std, dtype=dtype
        )
    # Build the structure without drawing eqx's own (discarded) initial weights.
    shapes = eqx.filter_eval_shape(
        lambda: eqx.nn.Linear(in_size, out_size, key=jax.random.key(0), dtype=dtype)
    )
    weight = _glorot(key, in_size, out_size, dtype)
    bias = jnp.zeros((out_size,), dtype)
    return eqx.tree_at(lambda layer: (layer.weight, layer.bias), shapes, (weight, bias))


class FactorizedMLP(eqx.Module):
    r"""An MLP of `FactorizedLinear` layers; built by `pinnlib.nn.factorized_mlp`.

    $u(x) = L_{\text{out}}(\sigma(L_D(\cdots \sigma(L_1 x))))$ with each $L_k$ a
    `FactorizedLinear`. A point function on one point of shape `(in_size,)`, returning
    shape `()` for `out_size="scalar"` and `(m,)` otherwise.

    **Attributes:** `layers` (a tuple of `FactorizedLinear`, the hidden layers then
    the output layer), `activation` (a callable), `out_size` (`"scalar"` or an int).

    Its `taylor_streams` method opts it into the fused derivative path of
    `pinnlib.diff` (see `pinnlib.diff.taylor`).

    !!! example

        ```python
        u = pl.nn.factorized_mlp(2, width=32, depth=3, key=jax.random.key(0))
        isinstance(u, pl.nn.FactorizedMLP)   # True
        ```
    """

    layers: tuple[FactorizedLinear, ...]
    activation: Callable
    out_size: int | Literal["scalar"] = eqx.field(static=True)

    def __call__(self, x: Float[Array, " d"], *, key=None) -> Float[Array, "*m"]:
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        y = self.layers[-1](x)
        return y[0] if self.out_size == "scalar" else y

    def taylor_streams(
        self,
        value: Float[Array, " d"],
        first: dict[int, Float[Array, " d"]],
        second: dict[tuple[int, int], Float[Array, " d"]],
    ) -> taylor.Streams:
        """`__call__` on second-order Taylor streams (see `pinnlib.diff.taylor`)."""
        h = (value, first, second)
        for layer in self.layers[:-1]:
            h = taylor.activate(self.activation, taylor.dense(layer, h))
        y = taylor.dense(self.layers[-1], h)
        return taylor.linear(_first, y) if self.out_size == "scalar" else y


def factorized_mlp(
    in_size: int,
    out_size: int | Literal["scalar"] = "scalar",
    *,
    width: int = 64,
    depth: int = 4,
    activation: str | Callable = "tanh",
    key: PRNGKeyArray,
    mean: float = 1.0,
    std: float = 0.1,
    dtype=None,
) -> FactorizedMLP:
    r"""An MLP field whose every dense layer uses random weight factorization.

    The same network as `pinnlib.nn.mlp`,
    $u(x) = W_{D+1}\,\sigma(\cdots \sigma(W_1 x + b_1) \cdots) + b_{D+1}$, but each
    weight is trained as $W_k = \operatorname{diag}(e^{s_k}) V_k$ with
    $s_k \sim \mathcal{N}(\mu, \sigma^2)$ per output neuron and
    $V_k = \operatorname{diag}(e^{-s_k}) W_k^{\text{Glorot}}$ (see
    `pinnlib.nn.FactorizedLinear`). Wang, Wang, Perdikaris et al. (2022),
    arXiv:2210.01274, report consistently lower errors for PINNs with it.

    **Arguments:**

    - `in_size`: the point dimension $d$.
    - `out_size`: `"scalar"` (default) for an output of shape `()`, or an int $m$.
    - `width`, `depth`: hidden width and number of hidden layers (keyword-only).
    - `activation`: a name from `pinnlib.nn.ACTIVATIONS` or a callable.
    - `key`: a PRNG key (keyword-only); split into one key per layer.
    - `mean`, `std`: $\mu$, $\sigma$ of the scales $s$ (defaults 1.0, 0.1).
    - `dtype`: parameter dtype; `None` means JAX's default float dtype.

    **Returns:** a `pinnlib.nn.FactorizedMLP`, a point function `u(x)`.

    **Raises:** `ValueError` for non-positive sizes, an unknown activation name, bad
    `mean`/`std` or a dtype JAX cannot create.

    !!! example

        ```python
        u = pl.nn.factorized_mlp(2, width=32, depth=3, key=jax.random.key(0))
        jax.vmap(u)(jnp.zeros((10, 2)))   # shape (10,)
        ```
    """
    where = "pinnlib.nn.factorized_mlp"
    in_size, out_size, width, depth = check_sizes(
        where, in_size, out_size, width, depth
    )
    sigma = activation_fn(where, activation)
    mean, std = _check_mean_std(where, mean, std)
    dtype = resolve_dtype(where, dtype)
    sizes = [in_size] + [width] * depth + [1 if out_size == "scalar" else out_size]
    keys = jax.random.split(key, depth + 1)
    layers = tuple(
        FactorizedLinear(n, m, key=k, mean=mean, std=std, dtype=dtype)
        for n, m, k in zip(sizes[:-1], sizes[1:], keys)
    )
    return FactorizedMLP(layers, sigma, out_size)
