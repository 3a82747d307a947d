"""A thin MLP builder over ``eqx.nn.MLP`` with Glorot initialisation."""

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._errors import bad_argument, check_positive_int

ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
}
"""Activation names accepted by `pinnlib.nn.mlp(activation=...)`."""


def activation_fn(where: str, name_or_fn: str | Callable) -> Callable:
    """The activation named `name_or_fn` (or the callable itself) for `where`."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in ACTIVATIONS:
        raise bad_argument(
            f"{where}(activation=...)",
            f"one of {sorted(ACTIVATIONS)} or a callable",
            name_or_fn,
            "Pick a listed name or pass a function such as jnp.tanh.",
        )
    return ACTIVATIONS[name_or_fn]


def check_sizes(where: str, in_size, out_size, width, depth) -> tuple:
    """`(in_size, out_size, width, depth)` checked: positive ints, or `"scalar"` out."""
    in_size = check_positive_int(f"{where}(in_size=...)", in_size)
    if out_size != "scalar":
        out_size = check_positive_int(f"{where}(out_size=...)", out_size)
    width = check_positive_int(f"{where}(width=...)", width)
    depth = check_positive_int(f"{where}(depth=...)", depth)
    return in_size, out_size, width, depth


def _glorot_normal(linear: eqx.nn.Linear, key: PRNGKeyArray) -> eqx.nn.Linear:
    out_size, in_size = linear.weight.shape
    std = jnp.sqrt(2.0 / (in_size + out_size)).astype(linear.weight.dtype)
    weight = std * jax.random.normal(key, linear.weight.shape, linear.weight.dtype)
    bias = jnp.zeros_like(linear.bias)
    return eqx.tree_at(lambda layer: (layer.weight, layer.bias), linear, (weight, bias))


def mlp(
    in_size: int,
    out_size: int | Literal["scalar"] = "scalar",
    *,
    width: int = 64,
    depth: int = 4,
    activation: str | Callable = "tanh",
    key: PRNGKeyArray,
    dtype=None,
) -> eqx.nn.MLP:
    r"""A multilayer perceptron field $u_\theta : \mathbb{R}^{d} \to \mathbb{R}^m$.

    $u_\theta(x) = W_L\,\sigma(\cdots \sigma(W_1 x + b_1) \cdots) + b_L$ with `depth`
    hidden layers of `width` units. Weights are Glorot-normal,
    $W \sim \mathcal{N}(0, 2/(n_\text{in} + n_\text{out}))$, biases are zero — the usual
    PINN initialisation.

    **Arguments:**

    - `in_size`: the point dimension $d$ (for space-time problems, space dims + 1).
    - `out_size`: `"scalar"` (default) for $u(x)$ of shape `()`, or an int $m$ for a
      vector field of shape `(m,)`.
    - `width`, `depth`: hidden width and number of hidden layers (keyword-only).
    - `activation`: a name from `pinnlib.nn.ACTIVATIONS` (`"tanh"`, `"sin"`,
      `"gelu"`, ...) or a callable (keyword-only).
    - `key`: a PRNG key (keyword-only).
    - `dtype`: parameter dtype; `None` means JAX's default float dtype.

    **Returns:** an `eqx.nn.MLP`, a point function `u(x)` on one point `x` of shape
    `(in_size,)`; batch it with `jax.vmap`.

    !!! example

        ```python
        u = pl.nn.mlp(2, width=32, depth=3, key=jax.random.key(0))
        u(jnp.array([0.5, 0.1]))           # shape ()
        jax.vmap(u)(jnp.zeros((10, 2)))     # shape (10,)
        ```
    """
    in_size, out_size, width, depth = check_sizes(
        "pinnlib.nn.mlp", in_size, out_size, width, depth
    )
    init_key, glorot_key = jax.random.split(key)
    net = eqx.nn.MLP(
        in_size,
        out_size,
        width,
        depth,
        activation=activation_fn("pinnlib.nn.mlp", activation),
        key=init_key,
        dtype=dtype,
    )
    keys = jax.random.split(glorot_key, len(net.layers))
    layers = tuple(_glorot_normal(layer, k) for layer, k in zip(net.layers, keys))
    return eqx.tree_at(lambda m: m.layers, net, layers)
