"""Mixed-precision evaluation: low-precision matrix products, float32 parameters."""

from typing import Any, Literal, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._errors import bad_argument

_Model = TypeVar("_Model")


def _product_dtype(where: str, dtype, param_dtype) -> np.dtype:
    """`dtype` as a NumPy dtype, checked: real floating, no wider than `param_dtype`."""
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    if (
        checked is None
        or not jnp.issubdtype(checked, jnp.floating)
        or checked.itemsize > np.dtype(param_dtype).itemsize
    ):
        raise bad_argument(
            f"{where}(dtype=...)",
            f"a real floating dtype no wider than the parameters' {param_dtype}",
            dtype if checked is None else checked,
            "Pass jnp.bfloat16 (the default) or jnp.float16 for float32 parameters.",
        )
    return checked


class MixedLinear(eqx.Module):
    r"""An `eqx.nn.Linear` whose matrix product runs in low precision.

    $$y = \operatorname{fl}_{32}\big(\tilde W \tilde x\big) + b, \qquad
      \tilde W = \operatorname{rd}(W),\ \tilde x = \operatorname{rd}(x),$$

    where $\operatorname{rd}$ rounds to `dtype` (bfloat16 by default, 8 significant
    bits) and the products $\tilde W_{ij} \tilde x_j$ are summed in the weight's
    dtype $\operatorname{fl}_{32}$ (`preferred_element_type`, float32 for float32
    weights), which is also the output dtype; the bias is added in that dtype. The
    stored `weight` and `bias` keep their dtype: they are the float32 master copy that
    gradients and optax update, and only their use in the product is rounded.

    Built by `pinnlib.nn.mixed_precision`, or directly from a layer. Apart from the
    rounding it behaves as `eqx.nn.Linear`: the same fields (`weight`, `bias`,
    `in_features`, `out_features`, `use_bias`), the same shapes, `"scalar"` sizes
    included, and one example per call (batch with `jax.vmap`).

    **Arguments:**

    - `linear`: the `eqx.nn.Linear` to convert; its arrays are kept, not copied.
    - `dtype`: the dtype of the product's operands, real floating and no wider than
      the weight's (default `jnp.bfloat16`).

    **Call:** `layer(x)` with `x` of shape `(in_features,)` (or `()` for
    `in_features="scalar"`); returns shape `(out_features,)` (or `()`), in the
    weight's dtype.

    **Raises:** `ValueError` for a `dtype` that is not a real floating dtype no wider
    than the weight's.

    !!! example

        ```python
        linear = eqx.nn.Linear(3, 8, key=jax.random.key(0), dtype=jnp.float32)
        layer = pl.nn.MixedLinear(linear)          # bfloat16 products
        layer(jnp.ones(3, jnp.float32)).dtype       # float32
        ```
    """

    weight: Float[Array, "*layers o i"]  # stacked layers: eqx.nn.MLP(scan=True)
    bias: Float[Array, "*layers o"] | None
    in_features: int | Literal["scalar"] = eqx.field(static=True)
    out_features: int | Literal["scalar"] = eqx.field(static=True)
    use_bias: bool = eqx.field(static=True)
    dtype: Any = eqx.field(static=True)

    def __init__(self, linear: eqx.nn.Linear, dtype=jnp.bfloat16):
        where = "pinnlib.nn.MixedLinear"
        if not isinstance(linear, eqx.nn.Linear):
            raise bad_argument(
                f"{where}(linear=...)",
                "an eqx.nn.Linear",
                type(linear).__name__,
                "Convert whole models with pinnlib.nn.mixed_precision(model).",
            )
        self.dtype = _product_dtype(where, dtype, linear.weight.dtype)
        self.weight = linear.weight
        self.bias = linear.bias
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.use_bias = linear.use_bias

    def matvec(self, x: Float[Array, " i"]) -> Float[Array, " o"]:
        r"""The product $\operatorname{fl}_{32}(\tilde W \tilde x)$ alone, no bias."""
        return jnp.matmul(
            self.weight.astype(self.dtype),
            x.astype(self.dtype),
            preferred_element_type=self.weight.dtype,
        )

    def __call__(
        self, x: Float[Array, "*i"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, "*o"]:
        if self.in_features == "scalar":
            if jnp.shape(x) != ():
                raise ValueError("x must have scalar shape")
            x = jnp.broadcast_to(x, (1,))
        y = self.matvec(x)
        if self.bias is not None:
            y = y + self.bias
        if self.out_features == "scalar":
            assert jnp.shape(y) == (1,)
            y = jnp.squeeze(y)
        return y


def _is_linear(node) -> bool:
    return isinstance(node, eqx.nn.Linear)


def mixed_precision(model: _Model, dtype=jnp.bfloat16) -> _Model:
    r"""A copy of `model` whose dense layers multiply in bfloat16, summing in float32.

    Every `eqx.nn.Linear` in the pytree `model` becomes a `pinnlib.nn.MixedLinear`
    holding the same `weight` and `bias` arrays, which computes

    $$y = \operatorname{fl}_{32}\big(\tilde W \tilde x\big) + b, \qquad
      \tilde W = \operatorname{rd}(W),\ \tilde x = \operatorname{rd}(x),$$

    with $\operatorname{rd}$ the rounding to `dtype`, the products accumulated in the
    weight's dtype (float32) and the bias added in it. The parameters stay float32
    master weights: gradients come back in float32 and optax updates them as usual.

    **What is converted:** exactly the `eqx.nn.Linear` layers, wherever they sit: the
    layers of `pinnlib.nn.mlp` (an `eqx.nn.MLP`, also behind embeddings in an
    `eqx.nn.Sequential`), the plain (non-factorized) layers of `pinnlib.nn.ModifiedMLP`
    and `pinnlib.nn.PirateNet`, and the branch and trunk of `pinnlib.nn.DeepONet`.
    Everything else stays in the parameters' precision: `pinnlib.nn.FactorizedLinear`
    (so `factorized_mlp` and the `factorized=True` variants), the projection of
    `FourierFeatures`, DeepONet's final sum, the whole of `pinnlib.nn.FNO` (its
    lifting, spectral and projection products are its own layers, not
    `eqx.nn.Linear`), and the activations, which act on float32 values.

    **Derivatives.** Forward and reverse mode differentiate through the rounded
    products, and so do the fused Taylor streams of `pinnlib.diff` (the default
    for orders $\le 2$: `pinnlib.diff.taylor.dense` multiplies with the layer's
    `matvec`): every derivative's products are rounded too, so a PINN residual is
    accurate to about bfloat16's 3 significant digits in each product (relative
    $2^{-8}$), not to float32's 7.

    **Where it pays.** On GPUs and TPUs with bfloat16 matrix units the products run
    at several times the float32 rate. On a CPU it is for checking correctness, and
    usually slower than float32.

    **Arguments:**

    - `model`: any pytree (an `eqx.Module` field, a tuple of them, ...) containing at
      least one `eqx.nn.Linear`.
    - `dtype`: the dtype of the products' operands, a real floating dtype no wider
      than every converted layer's weight (default `jnp.bfloat16`).

    **Returns:** a pytree of the same structure, with each `eqx.nn.Linear` replaced by
    a `pinnlib.nn.MixedLinear`; `model` itself is unchanged.

    **Raises:** `ValueError` if `dtype` is not a real floating dtype no wider than
    the weights, or if `model` has no `eqx.nn.Linear` (nothing would change).

    !!! example

        ```python
        key = jax.random.key(0)
        u = pl.nn.mixed_precision(pl.nn.mlp(2, width=64, depth=4, key=key))
        u(jnp.array([0.5, 0.1]))          # float32 out, bfloat16 products inside
        training = pl.training(loss, optax.adam(1e-3))
        state = training.init(u, key=key)  # float32 master weights, as usual
        ```
    """
    where = "pinnlib.nn.mixed_precision"
    leaves = jax.tree.leaves(model, is_leaf=_is_linear)
    layers = [leaf for leaf in leaves if _is_linear(leaf)]
    if not layers:
        raise bad_argument(
            f"{where}(model=...)",
            "a model containing eqx.nn.Linear layers",
            f"a {type(model).__name__} without any",
            "Nothing would change: only eqx.nn.Linear layers are converted "
            "(FactorizedLinear stays in full precision, and MixedLinear layers "
            "are already converted).",
        )
    for layer in layers:
        _product_dtype(where, dtype, layer.weight.dtype)
    return jax.tree.map(
        lambda node: MixedLinear(node, dtype) if _is_linear(node) else node,
        model,
        is_leaf=_is_linear,
    )


def _is_mixed(node) -> bool:
    return isinstance(node, MixedLinear)


def _linear(layer: MixedLinear) -> eqx.nn.Linear:
    """The `eqx.nn.Linear` holding `layer`'s arrays (not copies)."""
    shell = eqx.nn.Linear(
        layer.in_features,
        layer.out_features,
        use_bias=layer.use_bias,
        dtype=layer.weight.dtype,
        key=jax.random.key(0),
    )
    if layer.bias is None:
        return eqx.tree_at(lambda lin: lin.weight, shell, layer.weight)
    return eqx.tree_at(
        lambda lin: (lin.weight, lin.bias), shell, (layer.weight, layer.bias)
    )


def full_precision(model: _Model) -> _Model:
    r"""A copy of `model` whose `MixedLinear` layers multiply in full precision again.

    The inverse of `mixed_precision`: every `pinnlib.nn.MixedLinear` becomes the
    `eqx.nn.Linear` with the same `weight` and `bias` arrays (not copies), which
    computes $y = W x + b$ in the weights' dtype. So
    `full_precision(mixed_precision(model))` is `model`, bit for bit. Use it to
    finish a training begun in mixed precision: the trained float32 master weights
    then reach the accuracy of float32 products (a new training phase, with a fresh
    optimizer state for the model's new structure).

    **Arguments:**

    - `model`: any pytree containing at least one `MixedLinear` (also stacked, or
      converted under `vmap`: the arrays keep their leading axes).

    **Returns:** a pytree of the same structure, with each `MixedLinear` replaced by
    an `eqx.nn.Linear`; `model` itself is unchanged.

    **Raises:** `ValueError` if `model` has no `MixedLinear` (nothing would change).

    !!! example

        ```python
        u = pl.nn.mixed_precision(pl.nn.mlp(2, width=64, depth=4, key=key))
        # ... Adam in mixed precision, then the last phase in float32:
        u32 = pl.nn.full_precision(u)      # eqx.nn.Linear layers, the same arrays
        state = pl.training(loss, optax.lbfgs()).init(u32, key=key)
        ```
    """
    if not any(_is_mixed(leaf) for leaf in jax.tree.leaves(model, is_leaf=_is_mixed)):
        raise bad_argument(
            "pinnlib.nn.full_precision(model=...)",
            "a model containing pinnlib.nn.MixedLinear layers",
            f"a {type(model).__name__} without any",
            "Nothing would change: only the layers made by "
            "pinnlib.nn.mixed_precision are converted back.",
        )
    return jax.tree.map(
        lambda node: _linear(node) if _is_mixed(node) else node,
        model,
        is_leaf=_is_mixed,
    )
