"""PirateNet (Wang, Li, Chen & Perdikaris 2024): residual adaptive networks for PINNs.

The network starts as a linear model on random Fourier features (every adaptive
residual weight $\\alpha_l$ is zero) and learns how much nonlinearity each block
adds. `least_squares_init` uses that to initialise the last layer from data.
"""

import math
from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jaxtyping import Array, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_points, check_positive_int
from ..diff import taylor
from ._embeddings import FourierFeatures
from ._factorized import FactorizedLinear, _dense, _first
from ._mlp import activation_fn, check_sizes
from ._modified_mlp import _factorization

_Layer = eqx.nn.Linear | FactorizedLinear


def _check_scale(where: str, scale) -> float:
    try:
        value = float(scale)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise bad_argument(
            f"{where}(scale=...)",
            "a finite positive float (the std of the Fourier frequencies)",
            scale,
            "Pass e.g. scale=1.0; larger values fit higher frequencies.",
        )
    return value


def _check_bool(where: str, value) -> bool:
    if not isinstance(value, bool):
        raise bad_argument(where, "a bool", value, "Pass True or False.")
    return value


def _gate(f: Array, u: Array, v: Array) -> Array:
    return f * u + (1 - f) * v


class PirateNet(eqx.Module):
    r"""The PirateNet field of Wang, Li, Chen & Perdikaris (2024).

    A random Fourier embedding $\Phi$, two gates $U, V$ and $L$ residual blocks with
    adaptive skip connections:

    $$
    \begin{aligned}
    \Phi(x) &= [\cos(B x), \sin(B x)], \qquad
    U = \sigma(W_u \Phi(x) + b_u), \qquad V = \sigma(W_v \Phi(x) + b_v), \\
    x^{(1)} &= \Phi(x), \qquad \text{and for } l = 1, \dots, L: \\
    f^{(l)} &= \sigma(W^{(l)}_1 x^{(l)} + b^{(l)}_1), \qquad
    z^{(l)}_1 = f^{(l)} \odot U + (1 - f^{(l)}) \odot V, \\
    g^{(l)} &= \sigma(W^{(l)}_2 z^{(l)}_1 + b^{(l)}_2), \qquad
    z^{(l)}_2 = g^{(l)} \odot U + (1 - g^{(l)}) \odot V, \\
    h^{(l)} &= \sigma(W^{(l)}_3 z^{(l)}_2 + b^{(l)}_3), \qquad
    x^{(l+1)} = \alpha_l\, h^{(l)} + (1 - \alpha_l)\, x^{(l)}, \\
    u(x) &= W_\text{out}\, x^{(L+1)} + b_\text{out}.
    \end{aligned}
    $$

    The trainable $\alpha_l$ start at zero, so at initialisation every block is the
    identity and $u(x) = W_\text{out} \Phi(x) + b_\text{out}$, a linear model on the
    embedding: the network starts shallow and becomes as deep as training makes it,
    which the paper shows keeps the derivatives of deep PINNs well initialised. Its
    last layer can then be fitted to data by `pinnlib.nn.least_squares_init` (the
    paper's physics-informed initialisation).

    $B \in \mathbb{R}^{k \times d}$ has $\mathcal{N}(0, s^2)$ entries, as in the
    paper and jaxpi (stored as a `pinnlib.nn.FourierFeatures`, attribute
    `embedding`, whose convention $\cos(2\pi B' x)$ makes its `frequencies`
    $B' = B / 2\pi$), so the embedding has $2k$ entries; $W^{(l)}_1, W^{(l)}_2$
    and the gates have `width` outputs and $W^{(l)}_3$ maps back to $2k$. Dense
    weights are Glorot-normal, biases zero. With `factorized`, every dense layer
    (gates, blocks, output) is a `pinnlib.nn.FactorizedLinear`,
    $W = \operatorname{diag}(e^{r}) V$ with random $r$, as in the paper's
    experiments; the default is plain layers, as for `pinnlib.nn.ModifiedMLP`.

    Differences from the authors' code (jaxpi): $B$ is fixed unless
    `trainable_frequencies=True` (jaxpi trains it); each $\alpha_l$ is a scalar
    (jaxpi: shape `(1,)`); the output layer keeps its bias (jaxpi's least-squares
    layer has none, see `least_squares_init`).

    Wang, Li, Chen & Perdikaris, "PirateNets: Physics-informed deep learning with
    residual adaptive networks", JMLR 25 (2024),
    [arXiv:2402.00326](https://arxiv.org/abs/2402.00326).

    **Arguments:**

    - `in_size`: the point dimension $d$.
    - `out_size`: `"scalar"` (default) for an output of shape `()`, or an int $m$ for
      shape `(m,)`.
    - `width`: units of the gates and of the first two layers of each block
      (keyword-only; default 64).
    - `depth`: the number of residual blocks $L \ge 1$, three dense layers each
      (keyword-only; default 3).
    - `num_features`: $k$, the number of Fourier frequencies (keyword-only); `None`
      (default) means `ceil(width / 2)`, an embedding about as wide as the blocks.
    - `scale`: $s$, the std of the entries of $B$ (keyword-only; default 1.0, the
      paper's value; note that `FourierFeatures(scale=...)` is $s / 2\pi$).
    - `trainable_frequencies`: whether $B$ is trained (keyword-only; default
      `False`).
    - `activation`: a name from `pinnlib.nn.ACTIVATIONS` or an elementwise callable
      (keyword-only; default `"tanh"`).
    - `key`: a PRNG key (keyword-only), split into `3 * depth + 4` keys (embedding,
      gate $U$, gate $V$, the three layers of each block, output).
    - `dtype`: parameter dtype; `None` means JAX's default float dtype.
    - `factorized`: `None`/`False` (default) for plain dense layers; `True` for the
      paper's $r \sim \mathcal{N}(1, 0.1^2)$; or a `(mean, std)` pair.

    **Attributes:** `embedding` (a `FourierFeatures`), `encoder_u`, `encoder_v`,
    `blocks` (a tuple of $L$ triples of dense layers), `alpha` (shape `(L,)`),
    `output`, `activation`, `out_size`. The method `features(x)` returns
    $x^{(L+1)}$, the input of the output layer, shape `(2k,)`.

    **Derivatives:** its `taylor_streams` method opts it into the fused derivative
    path of `pinnlib.diff` (see `pinnlib.diff.taylor`), also behind embeddings in an
    `eqx.nn.Sequential` (e.g. `pinnlib.nn.PeriodicEmbedding` for exact
    periodicity).

    **Raises:** `ValueError` for non-positive sizes, an unknown activation name, a
    non-positive `scale`, a bad `factorized` or a dtype JAX cannot create.

    !!! example

        ```python
        u = pl.nn.PirateNet(2, width=32, depth=2, key=jax.random.key(0))
        u(jnp.array([0.5, 0.1]))            # shape ()
        jax.vmap(u)(jnp.zeros((10, 2)))      # shape (10,)
        emb = pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))
        v = eqx.nn.Sequential([emb, pl.nn.PirateNet(emb.out_size, 3, width=32,
                                                    factorized=True,
                                                    key=jax.random.key(1))])
        ```
    """

    embedding: FourierFeatures
    encoder_u: _Layer
    encoder_v: _Layer
    blocks: tuple[tuple[_Layer, _Layer, _Layer], ...]
    alpha: Float[Array, " L"]
    output: _Layer
    activation: Callable
    out_size: int | Literal["scalar"] = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int | Literal["scalar"] = "scalar",
        *,
        width: int = 64,
        depth: int = 3,
        num_features: int | None = None,
        scale: float = 1.0,
        trainable_frequencies: bool = False,
        activation: str | Callable = "tanh",
        key: PRNGKeyArray,
        dtype=None,
        factorized: bool | Sequence[float] | None = None,
    ):
        where = "pinnlib.nn.PirateNet"
        in_size, out_size, width, depth = check_sizes(
            where, in_size, out_size, width, depth
        )
        k = (width + 1) // 2 if num_features is None else num_features
        k = check_positive_int(f"{where}(num_features=...)", k)
        scale = _check_scale(where, scale)
        trainable = _check_bool(
            f"{where}(trainable_frequencies=...)", trainable_frequencies
        )
        self.activation = activation_fn(where, activation)
        factorization = _factorization(where, factorized)
        dtype = resolve_dtype(where, dtype)
        self.out_size = out_size
        keys = iter(jax.random.split(key, 3 * depth + 4))

        def dense(n, m):
            return _dense(where, next(keys), n, m, dtype, factorization)

        self.embedding = FourierFeatures(
            in_size,
            k,
            scale=scale / (2 * math.pi),  # its features are cos(2 pi B' x)
            key=next(keys),
            dtype=dtype,
            trainable=trainable,
        )
        emb = 2 * k
        self.encoder_u, self.encoder_v = dense(emb, width), dense(emb, width)
        self.blocks = tuple(
            (dense(emb, width), dense(width, width), dense(width, emb))
            for _ in range(depth)
        )
        self.alpha = jnp.zeros((depth,), dtype)
        self.output = dense(emb, 1 if out_size == "scalar" else out_size)

    def features(self, x: Float[Array, " d"]) -> Float[Array, " f"]:
        """$x^{(L+1)}$, the input of the output layer (equal to $\\Phi(x)$ at init)."""
        sigma = self.activation
        h = self.embedding(x)
        u = sigma(self.encoder_u(h))
        v = sigma(self.encoder_v(h))
        for (first, second, third), alpha in zip(self.blocks, self.alpha):
            z = _gate(sigma(first(h)), u, v)
            z = _gate(sigma(second(z)), u, v)
            h = alpha * sigma(third(z)) + (1 - alpha) * h
        return h

    def __call__(self, x: Float[Array, " d"], *, key=None) -> Float[Array, "*m"]:
        y = self.output(self.features(x))
        return y[0] if self.out_size == "scalar" else y

    def taylor_streams(
        self,
        value: Float[Array, " d"],
        first: dict[int, Float[Array, " d"]],
        second: dict[tuple[int, int], Float[Array, " d"]],
    ) -> taylor.Streams:
        """`__call__` on second-order Taylor streams (see `pinnlib.diff.taylor`).

        The embedding shares $\\cos$ and $\\sin$ between streams; each gate
        $V + f \\odot (U - V)$ and each skip $\\alpha h + (1 - \\alpha) x$ follow by
        the Leibniz rule and linearity.
        """
        sigma = self.activation
        h = self.embedding.taylor_streams(value, first, second)
        u = taylor.activate(sigma, taylor.dense(self.encoder_u, h))
        v = taylor.activate(sigma, taylor.dense(self.encoder_v, h))
        gap = taylor.add(u, v, scale=-1.0)

        def gate(layer, streams):
            f = taylor.activate(sigma, taylor.dense(layer, streams))
            return taylor.add(v, taylor.product(f, gap))

        for (layer1, layer2, layer3), alpha in zip(self.blocks, self.alpha):
            z = gate(layer2, gate(layer1, h))
            out = taylor.activate(sigma, taylor.dense(layer3, z))
            scaled = taylor.linear(lambda a, c=alpha: c * a, out)
            h = taylor.add(scaled, h, scale=1 - alpha)
        y = taylor.dense(self.output, h)
        return taylor.linear(_first, y) if self.out_size == "scalar" else y


# ------------------------------------------------------------ least-squares init


def _split(where: str, model) -> tuple[tuple, PirateNet]:
    """The layers in front of the PirateNet (if in a Sequential), and the PirateNet."""
    if isinstance(model, PirateNet):
        return (), model
    if (
        isinstance(model, eqx.nn.Sequential)
        and len(model.layers) > 0
        and isinstance(model.layers[-1], PirateNet)
    ):
        return tuple(model.layers[:-1]), model.layers[-1]
    raise bad_argument(
        f"{where}(model=...)",
        "a pinnlib.nn.PirateNet, or an eqx.nn.Sequential whose last layer is one",
        type(model).__name__,
        "Build the field with pinnlib.nn.PirateNet (embeddings in front of it go "
        "in an eqx.nn.Sequential).",
    )


def _check_values(where: str, net: PirateNet, points, values) -> Array:
    """`values` checked: shape `(n,)` (scalar net) or `(n, m)`, float, finite."""
    n = points.shape[0]
    expected = (n,) if net.out_size == "scalar" else (n, net.out_size)
    shape = getattr(values, "shape", None)
    if shape != expected or not jnp.issubdtype(values.dtype, jnp.floating):
        raise bad_argument(
            f"{where}(values=...)",
            f"a float array of shape {expected}: one output value per point",
            f"shape {shape}" if shape is not None else values,
            f"Evaluate the data at the {n} points (shape (n,) for a scalar field, "
            "(n, m) for m outputs).",
        )
    if not isinstance(values, Tracer) and not np.all(np.isfinite(np.asarray(values))):
        raise bad_argument(
            f"{where}(values=...)",
            "finite values",
            "an array with NaN or infinite entries",
            "Remove or fill the non-finite data before fitting.",
        )
    return values


def _with_affine(layer: _Layer, weight: Array, bias: Array) -> _Layer:
    weight = weight.astype(layer.weight.dtype)
    bias = bias.astype(layer.weight.dtype)
    if isinstance(layer, FactorizedLinear):  # keep s, solve for V = diag(e^-s) W
        v = weight / jnp.exp(layer.s)[:, None]
        return eqx.tree_at(lambda lyr: (lyr.v, lyr.bias), layer, (v, bias))
    return eqx.tree_at(lambda lyr: (lyr.weight, lyr.bias), layer, (weight, bias))


def _features(prefix: tuple, net: PirateNet, x: Array) -> Array:
    for layer in prefix:
        x = layer(x)
    return net.features(x)


@eqx.filter_jit
def _solve(prefix, net, points, targets, fit_bias: bool, rcond) -> _Layer:
    """The output layer solved by least squares (one compiled function)."""
    phi = jax.vmap(lambda x: _features(prefix, net, x))(points)
    if fit_bias:
        phi = jnp.concatenate([phi, jnp.ones_like(phi[:, :1])], axis=1)
    targets = targets.reshape(points.shape[0], -1).astype(phi.dtype)
    coef = jnp.linalg.lstsq(phi, targets, rcond=rcond)[0]
    p = net.output.weight.shape[1]
    bias = coef[p] if fit_bias else jnp.zeros_like(coef[0])
    return _with_affine(net.output, coef[:p].T, bias)


def least_squares_init(
    model,
    points: Float[Array, "n d"],
    values: Float[Array, " n *m"],
    *,
    fit_bias: bool = True,
    rcond: float | None = None,
):
    r"""Fit the output layer of a PirateNet to data by linear least squares.

    The paper's physics-informed initialisation: the output is linear in the last
    layer, $u(x) = W_\text{out}\, x^{(L+1)}(x) + b_\text{out}$, and at initialisation
    ($\alpha = 0$) $x^{(L+1)} = \Phi(x)$. Given data $Y_i \approx u(x_i)$ (an initial
    condition evaluated at space-time points, measurements, a cheap approximate
    solution) the last layer is set to

    $$
    (W_\text{out}, b_\text{out}) = \operatorname*{arg\,min}_{W, b}
    \sum_{i=1}^{n} \lVert W\, x^{(L+1)}(x_i) + b - Y_i \rVert_2^2,
    $$

    solved by `jnp.linalg.lstsq` (SVD; the minimum-norm solution when the features
    do not determine it). All other parameters are kept, so the model starts from
    the best linear fit its random features allow and training adds the
    nonlinearity. The features are those of the model as given, so it also works
    after training ($\alpha \ne 0$). A factorized output layer keeps its scales
    $s$ and gets $V = \operatorname{diag}(e^{-s}) W_\text{out}$.

    jaxpi evaluates the features the same way and solves with `jnp.linalg.lstsq`,
    but for a bias-free output layer; `fit_bias=False` does that (the bias is set to
    zero). Use more points than features ($n > 2k$) for a well-posed fit, spread
    over the whole domain the model will be evaluated on; for an initial condition,
    pair $u_0(x)$ with points at all times, as the paper does, so the fit is the
    time-independent $u(x, t) \approx u_0(x)$.

    Low-frequency features are nearly collinear, and the exact fit (the default,
    as in jaxpi) may then have large output weights that cancel each other. They
    amplify every later change of the features, so once training moves $\alpha$ off
    zero the loss can jump by orders of magnitude. Check
    `jnp.abs(model.output.weight).max()`; a cut-off such as `rcond=1e-3` trades a
    slightly worse fit for moderate weights.

    Wang, Li, Chen & Perdikaris, "PirateNets", JMLR 25 (2024),
    [arXiv:2402.00326](https://arxiv.org/abs/2402.00326).

    **Arguments:**

    - `model`: a `pinnlib.nn.PirateNet`, or an `eqx.nn.Sequential` whose last layer
      is one (embeddings such as `Normalize` or `PeriodicEmbedding` in front).
    - `points`: the points $x_i$, shape `(n, d)`.
    - `values`: the data $Y_i$, shape `(n,)` for a scalar field or `(n, m)` for $m$
      outputs.
    - `fit_bias`: solve for $b_\text{out}$ too (keyword-only; default `True`), or set
      it to zero.
    - `rcond`: singular values below `rcond` times the largest are dropped, as in
      `jnp.linalg.lstsq` (keyword-only; `None` is machine precision times
      $\max(n, 2k + 1)$: the exact least-squares solution).

    **Returns:** a model of the same structure and dtype with the new output layer.

    **Raises:** `ValueError` for a model that is not (or does not end in) a
    PirateNet, points that are not a non-empty `(n, d)` float array of the model's
    dimension, values of the wrong shape or with non-finite entries, or a non-bool
    `fit_bias`.

    !!! example

        ```python
        u = pl.nn.PirateNet(2, width=32, depth=2, key=jax.random.key(0))
        unit = jax.random.uniform(jax.random.key(1), (512, 2))
        points = unit * jnp.array([2.0, 1.0]) - jnp.array([1.0, 0.0])  # (x, t)
        u0 = -jnp.sin(jnp.pi * points[:, 0])          # u(x, t) = u0(x) at init
        u = pl.nn.least_squares_init(u, points, u0, rcond=1e-3)
        ```
    """
    where = "pinnlib.nn.least_squares_init"
    prefix, net = _split(where, model)
    fit_bias = _check_bool(f"{where}(fit_bias=...)", fit_bias)
    check_points(f"{where}(points=...)", points)
    targets = _check_values(where, net, points, values)

    point = jax.ShapeDtypeStruct(points.shape[1:], points.dtype)
    try:
        eqx.filter_eval_shape(_features, prefix, net, point)
    except (TypeError, ValueError) as err:
        raise bad_argument(
            f"{where}(points=...)",
            "points of the model's input dimension",
            f"shape {points.shape} ({type(err).__name__}: {err})",
            "Pass one point per row, with the coordinates the model takes.",
        ) from None
    output = _solve(prefix, net, points, targets, fit_bias, rcond)
    new = eqx.tree_at(lambda m: m.output, net, output)
    if not prefix:
        return new
    return eqx.tree_at(lambda s: s.layers[-1], model, new)
