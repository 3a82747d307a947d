"""The modified MLP of Wang, Teng & Perdikaris (2021): gated by two input encoders."""

from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument
from ..diff import taylor
from ._factorized import (
    DEFAULT_FACTORIZATION,
    FactorizedLinear,
    _check_mean_std,
    _dense,
    _first,
)
from ._mlp import activation_fn, check_sizes

_Layer = eqx.nn.Linear | FactorizedLinear


def _factorization(where: str, factorized) -> tuple[float, float] | None:
    if factorized is None or factorized is False:
        return None
    if factorized is True:
        return DEFAULT_FACTORIZATION
    if not isinstance(factorized, tuple | list) or len(factorized) != 2:
        raise bad_argument(
            f"{where}(factorized=...)",
            "None, a bool or a (mean, std) pair",
            factorized,
            "Pass factorized=True for the paper's (1.0, 0.1), or e.g. (1.0, 0.1).",
        )
    return _check_mean_std(where, *factorized)


class ModifiedMLP(eqx.Module):
    r"""The modified MLP field of Wang, Teng & Perdikaris (2021).

    Two encoders of the input gate every hidden layer:

    $$
    \begin{aligned}
    U &= \sigma(W_u x + b_u), \qquad V = \sigma(W_v x + b_v), \\
    H_1 &= \sigma(W_1 x + b_1), \\
    Z_k &= \sigma(W_{k+1} H_k + b_{k+1}), \qquad
    H_{k+1} = (1 - Z_k) \odot U + Z_k \odot V, \qquad k = 1, \dots, D - 1, \\
    u(x) &= W_\text{out} H_D + b_\text{out},
    \end{aligned}
    $$

    with $D$ = `depth` hidden layers of `width` units (the same count as
    `pinnlib.nn.mlp`, plus the two encoders). The multiplicative gates carry the input
    into every layer, which the paper shows mitigates stiff gradient-flow dynamics in
    PINN training ("Understanding and mitigating gradient flow pathologies in
    physics-informed neural networks", SIAM J. Sci. Comput. 43(5), 2021). This is the
    paper's formula; the authors' code and jaxpi gate the first layer too
    ($H_0 = x$, no ungated $H_1$). Weights are Glorot-normal, biases zero.

    With `factorized`, every dense layer (encoders, hidden, output) is a
    `pinnlib.nn.FactorizedLinear`, $W = \operatorname{diag}(e^{s}) V$ (random weight
    factorization, Wang, Wang, Perdikaris et al. 2022, arXiv:2210.01274).

    **Arguments:**

    - `in_size`: the point dimension $d$.
    - `out_size`: `"scalar"` (default) for an output of shape `()`, or an int $m$ for
      shape `(m,)`.
    - `width`, `depth`: hidden width and number of hidden layers $D \ge 2$
      (keyword-only; defaults 64 and 4).
    - `activation`: a name from `pinnlib.nn.ACTIVATIONS` or a callable
      (keyword-only).
    - `key`: a PRNG key (keyword-only), split into `depth + 3` layer keys (encoder
      $U$, encoder $V$, hidden layers $1..D$, output).
    - `dtype`: parameter dtype; `None` means JAX's default float dtype.
    - `factorized`: `None`/`False` (default) for plain dense layers; `True` for
      factorized layers with the paper's $s \sim \mathcal{N}(1, 0.1^2)$; or a
      `(mean, std)` pair.

    **Attributes:** `encoder_u`, `encoder_v`, `layers` (the $D$ hidden layers),
    `output`, `activation`, `out_size`.

    **Derivatives:** its `taylor_streams` method opts it into the fused derivative
    path of `pinnlib.diff` (see `pinnlib.diff.taylor`).

    **Raises:** `ValueError` for non-positive sizes, `depth < 2`, an unknown
    activation name, a bad `factorized` or a dtype JAX cannot create.

    !!! example

        ```python
        u = pl.nn.ModifiedMLP(2, width=32, depth=3, key=jax.random.key(0))
        u(jnp.array([0.5, 0.1]))            # shape ()
        jax.vmap(u)(jnp.zeros((10, 2)))      # shape (10,)
        v = pl.nn.ModifiedMLP(2, 3, width=32, depth=3, factorized=True,
                              key=jax.random.key(1))   # shape (3,) outputs
        ```
    """

    encoder_u: _Layer
    encoder_v: _Layer
    layers: tuple[_Layer, ...]
    output: _Layer
    activation: Callable
    out_size: int | Literal["scalar"] = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int | Literal["scalar"] = "scalar",
        *,
        width: int = 64,
        depth: int = 4,
        activation: str | Callable = "tanh",
        key: PRNGKeyArray,
        dtype=None,
        factorized: bool | Sequence[float] | None = None,
    ):
        where = "pinnlib.nn.ModifiedMLP"
        in_size, out_size, width, depth = check_sizes(
            where, in_size, out_size, width, depth
        )
        if depth < 2:
            raise bad_argument(
                f"{where}(depth=...)",
                "at least 2 hidden layers (one gated layer)",
                depth,
                "Use depth >= 2; with one layer the encoders would be unused.",
            )
        self.activation = activation_fn(where, activation)
        factorization = _factorization(where, factorized)
        dtype = resolve_dtype(where, dtype)
        self.out_size = out_size
        keys = jax.random.split(key, depth + 3)

        def dense(k, n, m):
            return _dense(where, k, n, m, dtype, factorization)

        self.encoder_u = dense(keys[0], in_size, width)
        self.encoder_v = dense(keys[1], in_size, width)
        self.layers = (dense(keys[2], in_size, width),) + tuple(
            dense(k, width, width) for k in keys[3 : depth + 2]
        )
        self.output = dense(keys[-1], width, 1 if out_size == "scalar" else out_size)

    def __call__(self, x: Float[Array, " d"], *, key=None) -> Float[Array, "*m"]:
        sigma = self.activation
        u = sigma(self.encoder_u(x))
        v = sigma(self.encoder_v(x))
        h = sigma(self.layers[0](x))
        for layer in self.layers[1:]:
            z = sigma(layer(h))
            h = (1 - z) * u + z * v
        y = self.output(h)
        return y[0] if self.out_size == "scalar" else y

    def taylor_streams(
        self,
        value: Float[Array, " d"],
        first: dict[int, Float[Array, " d"]],
        second: dict[tuple[int, int], Float[Array, " d"]],
    ) -> taylor.Streams:
        """`__call__` on second-order Taylor streams (see `pinnlib.diff.taylor`).

        Each gate $H \\leftarrow U + Z \\odot (V - U)$ by the Leibniz rule.
        """
        x, sigma = (value, first, second), self.activation
        u = taylor.activate(sigma, taylor.dense(self.encoder_u, x))
        v = taylor.activate(sigma, taylor.dense(self.encoder_v, x))
        gap = taylor.add(v, u, scale=-1.0)
        h = taylor.activate(sigma, taylor.dense(self.layers[0], x))
        for layer in self.layers[1:]:
            z = taylor.activate(sigma, taylor.dense(layer, h))
            h = taylor.add(u, taylor.product(z, gap))
        y = taylor.dense(self.output, h)
        return taylor.linear(_first, y) if self.out_size == "scalar" else y
