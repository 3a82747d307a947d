r"""Building blocks that push second-order Taylor streams through one operation.

A *streams* triple `(value, first, second)` holds, for an intermediate array $h(x)$
of a network, its value $h$, the first-order streams `first[i]` $= \partial_i h$ and
the second-order streams `second[(i, j)]` $= \partial_i \partial_j h$ (with $i \le j$),
for the coordinates and pairs a `pinnlib.diff.partials` call needs. Every block maps
streams to streams by the chain rule truncated at second order, so an architecture
written with them gives the exact derivatives (up to rounding) in one pass.
"""

from collections.abc import Callable
from typing import TypeAlias

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar

_Pair: TypeAlias = tuple[int, int]

Streams: TypeAlias = tuple[
    Float[Array, "..."],
    dict[int, Float[Array, "..."]],
    dict[tuple[int, int], Float[Array, "..."]],
]
"""A streams triple `(value, first, second)` of an intermediate array $h(x)$.

`value` is $h$, `first` the dict `{i: ∂_i h}` of first-order streams and `second` the
dict `{(i, j): ∂_i ∂_j h}` of second-order streams (keys `i <= j`), all arrays with the
shape of $h$. The argument and return type of the `taylor_streams` protocol method.
"""
# The same, with named dimensions so jaxtyping checks shapes in and out.
_StreamsLike: TypeAlias = tuple[
    Float[Array, "*shape"],
    dict[int, Float[Array, "*shape"]],
    dict[_Pair, Float[Array, "*shape"]],
]
_StreamsIn: TypeAlias = tuple[
    Float[Array, " n_in"],
    dict[int, Float[Array, " n_in"]],
    dict[_Pair, Float[Array, " n_in"]],
]
_StreamsOut: TypeAlias = tuple[
    Float[Array, " n_out"],
    dict[int, Float[Array, " n_out"]],
    dict[_Pair, Float[Array, " n_out"]],
]
_StreamsA: TypeAlias = tuple[
    Float[Array, "*a"], dict[int, Float[Array, "*a"]], dict[_Pair, Float[Array, "*a"]]
]
_StreamsB: TypeAlias = tuple[
    Float[Array, "*b"], dict[int, Float[Array, "*b"]], dict[_Pair, Float[Array, "*b"]]
]


def dense(layer, streams: _StreamsIn) -> _StreamsOut:
    r"""Push streams through an affine layer $z = W h + b$.

    $$z = W h + b, \qquad z_i = W h_i, \qquad z_{ij} = W h_{ij}:$$

    the bias only enters the value. Each stream is its own matrix–vector product:
    per point, separate products vectorise better under `jax.vmap` than one stacked
    `(streams, width)` product.

    **Arguments:**

    - `layer`: any object with `weight` of shape `(n_out, n_in)` and `bias` of shape
      `(n_out,)` or `None`, such as `eqx.nn.Linear` or
      `pinnlib.nn.FactorizedLinear`. A layer with a method `matvec(h)` computes its
      products $W h$ with it (`pinnlib.nn.MixedLinear`: in bfloat16).
    - `streams`: `(value, first, second)`, each array of shape `(n_in,)`.

    **Returns:** the streams of $z$, each array of shape `(n_out,)`.

    !!! example

        ```python
        layer = eqx.nn.Linear(2, 8, key=jax.random.key(0))
        x = jnp.array([0.5, 0.1])
        streams = (x, {0: jnp.array([1.0, 0.0])}, {(0, 0): jnp.zeros(2)})
        z, z1, z2 = pl.diff.taylor.dense(layer, streams)   # z == layer(x)
        ```
    """
    value, first, second = streams
    weight = layer.weight
    product = getattr(layer, "matvec", None) or (lambda h: weight @ h)
    z = product(value) if layer.bias is None else product(value) + layer.bias
    return (
        z,
        {i: product(h) for i, h in first.items()},
        {ij: product(h) for ij, h in second.items()},
    )


def _tanh_derivatives(z):
    a = jnp.tanh(z)
    s1 = 1 - a * a
    return a, s1, -2 * a * s1


def _sin_derivatives(z):
    a = jnp.sin(z)
    return a, jnp.cos(z), -a


def _activation_derivatives(sigma, z):
    """$\\sigma(z), \\sigma'(z), \\sigma''(z)$, closed form for tanh and sin."""
    if sigma is jnp.tanh or sigma is jax.nn.tanh:
        return _tanh_derivatives(z)
    if sigma is jnp.sin:
        return _sin_derivatives(z)
    ones = jnp.ones_like(z)
    d1 = lambda y: jax.jvp(sigma, (y,), (jnp.ones_like(y),))[1]  # noqa: E731
    value, s1 = jax.jvp(sigma, (z,), (ones,))
    return value, s1, jax.jvp(d1, (z,), (ones,))[1]


def activate(sigma: Callable, streams: _StreamsLike) -> _StreamsLike:
    r"""Push streams through an elementwise activation $a = \sigma(z)$.

    $$a = \sigma(z), \qquad a_i = \sigma'(z)\, z_i, \qquad
    a_{ij} = \sigma''(z)\, z_i z_j + \sigma'(z)\, z_{ij},$$

    with $\sigma$, $\sigma'$ and $\sigma''$ evaluated once and shared by all streams
    (closed form for `jnp.tanh` and `jnp.sin`, `jax.jvp` for any other function).

    **Arguments:**

    - `sigma`: an elementwise function, e.g. `jnp.tanh` or `jax.nn.gelu`.
    - `streams`: `(value, first, second)` of $z$, arrays of any one shape.

    **Returns:** the streams of $\sigma(z)$, with the same shape.

    !!! example

        ```python
        z = jnp.array([0.3, -0.2])
        streams = (z, {0: jnp.array([1.0, 0.5])}, {(0, 0): jnp.zeros(2)})
        a, a1, a2 = pl.diff.taylor.activate(jnp.tanh, streams)   # a == jnp.tanh(z)
        ```
    """
    z, z1, z2 = streams
    value, s1, s2 = _activation_derivatives(sigma, z)
    first = {i: s1 * h for i, h in z1.items()}
    second = {(i, j): s2 * z1[i] * z1[j] + s1 * h for (i, j), h in z2.items()}
    return value, first, second


def product(a: _StreamsLike, b: _StreamsLike) -> _StreamsLike:
    r"""Streams of an elementwise product $p = a \odot b$ (Leibniz rule).

    $$p = a b, \qquad p_i = a_i b + a b_i, \qquad
    p_{ij} = a_{ij} b + a_i b_j + a_j b_i + a b_{ij}.$$

    **Arguments:**

    - `a`, `b`: streams `(value, first, second)` with the same keys, arrays of one
      shape.

    **Returns:** the streams of $a \odot b$.

    !!! example

        ```python
        x = jnp.array([0.5, 0.1])
        s = (x, {0: jnp.array([1.0, 0.0])}, {(0, 0): jnp.zeros(2)})
        p, p1, p2 = pl.diff.taylor.product(s, s)   # streams of x * x: p2[(0, 0)] == [2, 0]
        ```
    """
    (va, fa, sa), (vb, fb, sb) = a, b
    first = {i: fa[i] * vb + va * fb[i] for i in fa}
    second = {
        (i, j): sa[(i, j)] * vb + fa[i] * fb[j] + fa[j] * fb[i] + va * sb[(i, j)]
        for (i, j) in sa
    }
    return va * vb, first, second


def add(a: _StreamsLike, b: _StreamsLike, *, scale: Scalar = 1.0) -> _StreamsLike:
    r"""Streams of a sum $s = a + c\, b$ with a constant $c$ (`scale`).

    $$s = a + c\, b, \qquad s_i = a_i + c\, b_i, \qquad s_{ij} = a_{ij} + c\, b_{ij}.$$

    **Arguments:**

    - `a`, `b`: streams `(value, first, second)` with the same keys, arrays of one
      shape.
    - `scale`: the constant $c$ (keyword-only; default 1, so `add(a, b)` is $a + b$
      and `add(a, b, scale=-1.0)` is $a - b$).

    **Returns:** the streams of $a + c\, b$.

    !!! example

        ```python
        x = jnp.array([0.5, 0.1])
        s = (x, {0: jnp.array([1.0, 0.0])}, {(0, 0): jnp.zeros(2)})
        h = pl.diff.taylor.activate(jnp.tanh, s)
        r = pl.diff.taylor.add(s, h)              # a residual connection x + tanh(x)
        ```
    """
    (va, fa, sa), (vb, fb, sb) = a, b
    return (
        va + scale * vb,
        {i: fa[i] + scale * fb[i] for i in fa},
        {ij: sa[ij] + scale * sb[ij] for ij in sa},
    )


def linear(fn: Callable, streams: _StreamsA) -> _StreamsB:
    r"""Streams of a *linear* map $L$ (no offset): $L(h)$, $L(h_i)$, $L(h_{ij})$.

    For a linear $L$ the derivatives commute with it: $\partial_i L(h) = L(h_i)$ and
    $\partial_i \partial_j L(h) = L(h_{ij})$. Use it for indexing (`a[0]` to return a
    scalar), slicing, reshaping or a constant scaling. For an affine map use
    `pinnlib.diff.taylor.dense`; for anything else `pinnlib.diff.taylor.apply`.

    **Arguments:**

    - `fn`: a linear function of one array.
    - `streams`: `(value, first, second)`, arrays of any one shape.

    **Returns:** the streams of `fn(value)`.

    !!! example

        ```python
        y = (jnp.array([2.0]), {0: jnp.array([0.5])}, {(0, 0): jnp.array([0.1])})
        v, v1, v2 = pl.diff.taylor.linear(lambda a: a[0], y)   # scalar streams
        ```
    """
    value, first, second = streams
    return (
        fn(value),
        {i: fn(h) for i, h in first.items()},
        {ij: fn(h) for ij, h in second.items()},
    )


def apply(f: Callable, streams: _StreamsA) -> _StreamsB:
    r"""Streams through any differentiable function $f$, by nested `jax.jvp`.

    $$y = f(h), \qquad y_i = Df(h)[h_i], \qquad
    y_{ij} = D^2 f(h)[h_i, h_j] + Df(h)[h_{ij}].$$

    The fallback for an operation without a closed-form rule (an input embedding, a
    normalisation): correct for any $f$, but it costs one `jax.jvp` per first-order
    stream and two per second-order stream.

    **Arguments:**

    - `f`: a function of one array.
    - `streams`: `(value, first, second)`, arrays of any one shape.

    **Returns:** the streams of `f(value)`.

    !!! example

        ```python
        x = jnp.array([0.5, 0.1])
        s = (x, {0: jnp.array([1.0, 0.0])}, {(0, 0): jnp.zeros(2)})
        y, y1, y2 = pl.diff.taylor.apply(lambda h: jnp.sin(h).sum(), s)
        ```
    """
    value, first, second = streams
    out, tangents = f(value), {}
    for i, h_i in first.items():
        out, tangents[i] = jax.jvp(f, (value,), (h_i,))
    seconds = {}
    for (i, j), h_ij in second.items():
        d_i = lambda y, h=first[i]: jax.jvp(f, (y,), (h,))[1]  # noqa: E731
        curvature = jax.jvp(d_i, (value,), (first[j],))[1]
        seconds[(i, j)] = curvature + jax.jvp(f, (value,), (h_ij,))[1]
    return out, tangents, seconds
