"""A thin MLP builder over ``eqx.nn.MLP`` with Glorot initialisation."""

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._errors import bad_argument, check_positive_int

ACTIVATIONS: Mapping[str, Callable] = MappingProxyType(
    {
        "tanh": jnp.tanh,
        "sin": jnp.sin,
        "gelu": jax.nn.gelu,
        "silu": jax.nn.silu,
        "swish": jax.nn.silu,
        "softplus": jax.nn.softplus,
        "sigmoid": jax.nn.sigmoid,
        "relu": jax.nn.relu,
    }
)
r"""The built-in activation names accepted by `activation=...`, mapped to functions.

A read-only mapping: `pinnlib.nn.mlp`, `ModifiedMLP` and `factorized_mlp` take one of
these names or any elementwise callable $\sigma$ (an array in, an array of the same
shape out), so there is nothing to register. Passing `activation=fn` is the way to use
your own:

```python
def scaled_tanh(z):
    return jnp.tanh(2.0 * z)

u = pl.nn.mlp(2, activation=scaled_tanh, key=jax.random.key(0))
```
"""


def _output_of(fn: Callable, shape: tuple[int, ...]):
    """The output shape of ``fn`` on a float array of ``shape`` (abstractly, no FLOPs),
    or a description of what went wrong."""
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64)
    try:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct(shape, dtype))
    except Exception as err:  # wrong arity, a non-array output, ...
        return f"{type(err).__name__}: {err}"
    if not isinstance(out, jax.ShapeDtypeStruct) or not jnp.issubdtype(
        out.dtype, jnp.floating
    ):
        return f"an output {out!r} on a float input of shape {shape}"
    return out.shape


def activation_fn(where: str, name_or_fn: str | Callable) -> Callable:
    """The activation named `name_or_fn`, or the callable itself once checked.

    A callable is evaluated abstractly (no computation) on a scalar and on a vector: it
    must return a float array of the same shape, as an elementwise function does.
    """
    arg = f"{where}(activation=...)"
    if isinstance(name_or_fn, str) and name_or_fn in ACTIVATIONS:
        return ACTIVATIONS[name_or_fn]
    if not callable(name_or_fn):
        raise bad_argument(
            arg,
            f"one of the built-in names {sorted(ACTIVATIONS)} or a callable",
            name_or_fn,
            "Pick a listed name or pass an elementwise function such as jnp.tanh.",
        )
    for shape in ((), (3,)):
        received = _output_of(name_or_fn, shape)
        if received != shape:
            if isinstance(received, tuple):
                received = f"an output of shape {received} for shape {shape}"
            raise bad_argument(
                arg,
                "an elementwise callable: a float array in, a float array of the "
                "same shape out",
                received,
                f"Make {getattr(name_or_fn, '__name__', name_or_fn)} act elementwise "
                "with jnp functions, e.g. lambda z: z * jax.nn.sigmoid(z).",
            )
    return name_or_fn


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
    if linear.bias is None:
        return eqx.tree_at(lambda layer: layer.weight, linear, weight)
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
    - `activation`: a built-in name from `pinnlib.nn.ACTIVATIONS` (`"tanh"`,
      `"sin"`, `"gelu"`, ...) or your own elementwise callable $\sigma$, an array in
      and an array of the same shape and dtype out (keyword-only).
    - `key`: a PRNG key (keyword-only).
    - `dtype`: parameter dtype; `None` means JAX's default float dtype.

    **Returns:** an `eqx.nn.MLP`, a point function `u(x)` on one point `x` of shape
    `(in_size,)`; batch it with `jax.vmap`.

    **Raises:** `ValueError` for non-positive sizes, an unknown activation name, or an
    activation callable that does not map an array to one of the same shape and dtype.

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
